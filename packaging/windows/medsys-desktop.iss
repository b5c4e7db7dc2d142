; Inno Setup script for the medsys desktop console (Windows). Not built on the Linux CI machine.
; First build the one-folder bundle on Windows:  py -m PyInstaller --noconfirm packaging\medsys-desktop.spec
; then compile this script with Inno Setup 6:   iscc /DAppVersion=0.1.0 packaging\windows\medsys-desktop.iss
; (the version is the one in pyproject.toml: py -c "from importlib.metadata import version; print(version('medsys'))")

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=<version from pyproject.toml>
#endif

[Setup]
AppId={{6E0C3B7A-4F0B-4C8B-9E55-2C7D1B7A9A10}
AppName=medsys
AppVersion={#AppVersion}
AppPublisher=medsys
DefaultDirName={autopf}\medsys
DefaultGroupName=medsys
OutputDir=..\..\dist
OutputBaseFilename=medsys-desktop-{#AppVersion}-setup
SetupIconFile=medsys.ico
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog

[Files]
Source: "..\..\dist\medsys-desktop\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\medsys"; Filename: "{app}\medsys-desktop.exe"
Name: "{autodesktop}\medsys"; Filename: "{app}\medsys-desktop.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
; The same self-test the Linux package test runs, offered after installation.
Filename: "{app}\medsys-desktop.exe"; Parameters: "--selftest"; Description: "Check the installation"; Flags: postinstall skipifsilent runhidden
