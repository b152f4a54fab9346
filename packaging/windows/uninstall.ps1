<#
.SYNOPSIS
  Removes the Tapgate endpoint node service and its program files. nbe.toml, the credential and the logs
  in C:\Nymi\Bluetooth_Endpoint stay (delete them by hand when the terminal is retired).
#>
param(
  [string]$InstallDir = "$env:ProgramFiles\Tapgate\Endpoint",
  [string]$ServiceName = "TapgateEndpoint"
)
$ErrorActionPreference = "Stop"
$service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($service) {
  if ($service.Status -ne "Stopped") {
    Stop-Service -Name $ServiceName -Force
    $service.WaitForStatus("Stopped", [TimeSpan]::FromSeconds(30))
  }
  & sc.exe delete $ServiceName | Out-Host
  if ($LASTEXITCODE -ne 0) { throw "sc.exe delete $ServiceName failed with $LASTEXITCODE" }
}
if (Test-Path $InstallDir) { Remove-Item -Recurse -Force $InstallDir }
Write-Host "Removed $ServiceName. Configuration and logs in C:\Nymi\Bluetooth_Endpoint were kept."
