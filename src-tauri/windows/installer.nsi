; Roost's Windows installer, compiled on Linux by Debian's `makensis` (`./dev package`).
;
; Why not Tauri's own NSIS bundler: on Linux it downloads its `nsis_tauri_utils.dll` plugin from
; GitHub at build time, and this build must work with no internet but crates.io/npm/Debian. This
; script needs only the stock NSIS plugins (System, nsExec) that Debian's `nsis` package ships.
;
; What it does: a per-user install (no administrator rights) of roost-desktop.exe and the
; WebView2Loader.dll the GNU toolchain build loads, into %LOCALAPPDATA%\Programs\Roost; a
; Start-menu shortcut carrying the app's AppUserModelID (Windows only shows the app's toast
; notifications for an ID a Start-menu shortcut carries); an "Apps & features" entry and an
; uninstaller. It checks for the Microsoft Edge WebView2 Runtime (shipped with Windows 11 and
; current Windows 10) and, when it is absent, downloads Microsoft's bootstrapper at install time
; and runs it; when that download fails it offers to open Microsoft's download page.
;
; The uninstaller leaves the user's data (message cache, settings, logs in
; %LOCALAPPDATA%\dev.roost.desktop and %APPDATA%\dev.roost.desktop) in place, as Windows apps do.
;
; Defines passed by xtask (`makensis -D…`): VERSION (x.y.z), APP_EXE, WEBVIEW2_LOADER, ICON,
; OUTFILE (all paths absolute).

Unicode true
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!include MUI2.nsh
!include LogicLib.nsh
!include x64.nsh
!include "Win\COM.nsh"
!include "Win\Propkey.nsh"

!define PRODUCT "Roost"
!define PUBLISHER "Roost"
; The identifier in tauri.conf.json: the notification plugin uses it as the AppUserModelID.
!define APP_ID "dev.roost.desktop"
!define MAIN_EXE "roost-desktop.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
!define WEBVIEW2_GUID "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
!define WEBVIEW2_BOOTSTRAPPER_URL "https://go.microsoft.com/fwlink/p/?LinkId=2124703"
!define WEBVIEW2_PAGE_URL "https://developer.microsoft.com/microsoft-edge/webview2/"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "Software\${PUBLISHER}\${PRODUCT}" "InstallDir"
BrandingText "${PRODUCT} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "MIT OR Apache-2.0"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${MAIN_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${PRODUCT}"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; Stores APP_ID as the shortcut's System.AppUserModel.ID (IShellLink → IPropertyStore), the
; same property Tauri's own installer sets.
!macro SetShortcutAppUserModelId shortcut
  !insertmacro ComHlpr_CreateInProcInstance ${CLSID_ShellLink} ${IID_IShellLink} r0 ""
  ${If} $0 P<> 0
    ${IUnknown::QueryInterface} $0 '("${IID_IPersistFile}",.r1)'
    ${If} $1 P<> 0
      ${IPersistFile::Load} $1 '("${shortcut}", ${STGM_READWRITE})'
      ${IUnknown::QueryInterface} $0 '("${IID_IPropertyStore}",.r2)'
      ${If} $2 P<> 0
        System::Call 'Oleaut32::SysAllocString(w "${APP_ID}") i.r3'
        System::Call '*${SYSSTRUCT_PROPERTYKEY}(${PKEY_AppUserModel_ID})p.r4'
        System::Call '*${SYSSTRUCT_PROPVARIANT}(${VT_BSTR},,&i4 $3)p.r5'
        ${IPropertyStore::SetValue} $2 '($4,$5)'
        System::Call 'Oleaut32::SysFreeString($3)'
        System::Free $4
        System::Free $5
        ${IPropertyStore::Commit} $2 ""
        ${IUnknown::Release} $2 ""
        ${IPersistFile::Save} $1 '("${shortcut}",1)'
      ${EndIf}
      ${IUnknown::Release} $1 ""
    ${EndIf}
    ${IUnknown::Release} $0 ""
  ${EndIf}
!macroend

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${PRODUCT} needs 64-bit Windows." /SD IDOK
    Abort
  ${EndIf}
  SetShellVarContext current
  SetRegView 64
FunctionEnd

Section "${PRODUCT}" SectionApp
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "/oname=${MAIN_EXE}" "${APP_EXE}"
  File "/oname=WebView2Loader.dll" "${WEBVIEW2_LOADER}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortCut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\${MAIN_EXE}"
  !insertmacro SetShortcutAppUserModelId "$SMPROGRAMS\${PRODUCT}.lnk"

  WriteRegStr HKCU "Software\${PUBLISHER}\${PRODUCT}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${MAIN_EXE}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "WebView2 Runtime" SectionWebView2
  Call WebView2Version
  Pop $0
  ${If} $0 != ""
    DetailPrint "Microsoft Edge WebView2 Runtime $0 is installed."
    Return
  ${EndIf}
  DetailPrint "Downloading the Microsoft Edge WebView2 Runtime bootstrapper..."
  StrCpy $1 "$TEMP\MicrosoftEdgeWebview2Setup.exe"
  Delete "$1"
  ; PowerShell speaks HTTPS on every supported Windows; NSIS's stock NSISdl plugin does not.
  nsExec::ExecToLog 'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12; Invoke-WebRequest -UseBasicParsing -Uri ''${WEBVIEW2_BOOTSTRAPPER_URL}'' -OutFile ''$1''"'
  Pop $2
  ${If} $2 == 0
  ${AndIf} ${FileExists} "$1"
    DetailPrint "Installing the Microsoft Edge WebView2 Runtime..."
    ExecWait '"$1" /silent /install' $3
    Delete "$1"
    ${If} $3 == 0
      DetailPrint "The WebView2 Runtime is installed."
      Return
    ${EndIf}
    DetailPrint "The WebView2 Runtime bootstrapper failed (exit code $3)."
  ${Else}
    DetailPrint "Could not download the WebView2 Runtime bootstrapper."
  ${EndIf}
  MessageBox MB_YESNO|MB_ICONEXCLAMATION "${PRODUCT} needs the Microsoft Edge WebView2 Runtime, which could not be installed automatically.$\r$\n$\r$\nOpen Microsoft's download page now?" /SD IDNO IDNO webview2_done
  ExecShell "open" "${WEBVIEW2_PAGE_URL}"
  webview2_done:
SectionEnd

; Pushes the installed WebView2 Runtime version ("" when absent): per-machine installs register
; under the 32-bit view on 64-bit Windows, per-user installs under HKCU.
Function WebView2Version
  SetRegView 32
  ReadRegStr $0 HKLM "SOFTWARE\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  SetRegView 64
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "SOFTWARE\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${EndIf}
  ${If} $0 == "0.0.0.0"
    StrCpy $0 ""
  ${EndIf}
  Push $0
FunctionEnd

Section "Uninstall"
  SetShellVarContext current
  SetRegView 64
  Delete "$INSTDIR\${MAIN_EXE}"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\${PUBLISHER}\${PRODUCT}"
  DeleteRegKey /ifempty HKCU "Software\${PUBLISHER}"
SectionEnd
