// mamori's bundled YARA-X rules. Keep them specific: a match blocks mail and downloads.
// meta "category" sets the verdict category (malware | policy | macro); default malware.

rule Mamori_EICAR_Test_File
{
    meta:
        description = "EICAR anti-virus test file"
        category = "malware"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar
}

rule Mamori_HTML_Smuggling
{
    meta:
        description = "HTML that assembles a file from script data and saves it (HTML smuggling)"
        category = "malware"
    strings:
        $html = "<html" nocase
        $blob = "new Blob(" nocase
        $save1 = "msSaveOrOpenBlob" nocase
        $save2 = ".download" nocase
        $decode1 = "atob(" nocase
        $decode2 = "Uint8Array" nocase
        $click = ".click()" nocase
    condition:
        $html and $blob and any of ($save*) and any of ($decode*) and $click
}

rule Mamori_PowerShell_Download_Execute
{
    meta:
        description = "PowerShell downloading and executing code in one line"
        category = "malware"
    strings:
        $iex1 = "IEX" nocase ascii wide
        $iex2 = "Invoke-Expression" nocase ascii wide
        $dl1 = "DownloadString" nocase ascii wide
        $dl2 = "DownloadData" nocase ascii wide
        $dl3 = "Invoke-WebRequest" nocase ascii wide
        $wc = "Net.WebClient" nocase ascii wide
    condition:
        any of ($iex*) and any of ($dl*) and ($wc or $dl3)
}

rule Mamori_LNK_Launches_Script_Host
{
    meta:
        description = "Windows shortcut that starts a script interpreter"
        category = "malware"
    strings:
        $ps = "powershell" nocase wide ascii
        $mshta = "mshta" nocase wide ascii
        $wscript = "wscript" nocase wide ascii
        $cmd = "cmd.exe" nocase wide ascii
    condition:
        uint32(0) == 0x0000004C and filesize < 2MB and any of them
}

rule Mamori_HTA_Shell
{
    meta:
        description = "HTML application that runs commands through WScript.Shell"
        category = "malware"
    strings:
        $hta = "<hta:application" nocase
        $shell = "WScript.Shell" nocase
        $run1 = ".Run(" nocase
        $run2 = ".Exec(" nocase
    condition:
        $hta and $shell and any of ($run*)
}
