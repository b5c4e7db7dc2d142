"""Qt item models over the API's collections."""
