<#
.SYNOPSIS
  Installs the Tapgate endpoint node as a Windows service (start on boot, restart on failure).
.DESCRIPTION
  Run as Administrator from the folder holding tapgate-endpoint.exe (dist/packages/windows). Copies the
  files to -InstallDir, creates C:\Nymi\Bluetooth_Endpoint\nbe.toml from nbe.toml.example when it does not
  exist (edit it: agent_url, terminal_id, credential_file), registers the service with sc.exe and starts it.
  Re-running it upgrades the files in place (the service is stopped first).
#>
param(
  [string]$InstallDir = "$env:ProgramFiles\Tapgate\Endpoint",
  [string]$ServiceName = "TapgateEndpoint",
  [switch]$NoStart
)
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$configDir = "C:\Nymi\Bluetooth_Endpoint"

function Invoke-Sc([string[]]$scArgs) {
  & sc.exe @scArgs | Out-Host
  if ($LASTEXITCODE -ne 0) { throw "sc.exe $($scArgs -join ' ') failed with $LASTEXITCODE" }
}

$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($existing -and $existing.Status -ne "Stopped") {
  Stop-Service -Name $ServiceName -Force
  $existing.WaitForStatus("Stopped", [TimeSpan]::FromSeconds(30))
}

New-Item -ItemType Directory -Force -Path $InstallDir, $configDir, "$configDir\logs" | Out-Null
Copy-Item -Recurse -Force -Path (Join-Path $here "node_modules") -Destination $InstallDir
foreach ($f in "tapgate-endpoint.exe", "tapgate-endpoint-service.exe", "tapgate-endpoint-service.exe.config",
               "tapgate-endpoint-service.xml", "uninstall.ps1", "nbe.toml.example", "SHA256SUMS") {
  Copy-Item -Force -Path (Join-Path $here $f) -Destination $InstallDir
}
if (-not (Test-Path "$configDir\nbe.toml")) {
  Copy-Item -Path (Join-Path $here "nbe.toml.example") -Destination "$configDir\nbe.toml"
  Write-Host "Created $configDir\nbe.toml: set agent_url, terminal_id and credential_file before starting."
}
# The credential and key files next to nbe.toml are secrets: only SYSTEM and Administrators may read them.
& icacls.exe $configDir /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" | Out-Null

# Refuse to install a configuration that does not load: the same check the service does at start.
& "$InstallDir\tapgate-endpoint.exe" check --config "$configDir\nbe.toml" | Out-Host
if ($LASTEXITCODE -ne 0) { throw "$configDir\nbe.toml does not load (see above); fix it and run install.ps1 again" }
$check = & "$InstallDir\tapgate-endpoint.exe" --version
Write-Host "Installing $check"

if (-not $existing) {
  Invoke-Sc @("create", $ServiceName, "binPath=", "`"$InstallDir\tapgate-endpoint-service.exe`"",
              "start=", "auto", "DisplayName=", "Tapgate endpoint node")
}
Invoke-Sc @("description", $ServiceName, "Reads taps from this terminal's readers and sends them to the Tapgate gateway.")
# Restart the service 5 s, 10 s and 30 s after a failure; count failures over one day.
Invoke-Sc @("failure", $ServiceName, "reset=", "86400", "actions=", "restart/5000/restart/10000/restart/30000")
# Apply the failure actions also when the service stops with an error exit code, not only on a crash.
Invoke-Sc @("failureflag", $ServiceName, "1")
if (-not $NoStart) { Invoke-Sc @("start", $ServiceName) }
Write-Host "Service $ServiceName installed. Logs: $configDir\logs\endpoint.log"
