complete -c dockerbox -s c -d 'Run COMMANDS (a command line) and exit with its status' -r
complete -c dockerbox -l color -d 'When to use colours: only on a terminal (auto, honours NO_COLOR), always, or never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -l agent -d 'Use the in-container agent: auto (start it in the background, answer from the archive API meanwhile), always (wait for it), never (upload nothing)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -s H -l host -d 'An engine to show, as NAME=URL (unix://, tcp://, ssh://) or URL; repeat for several. With more than one engine the tree is /containers/HOST/NAME' -r
complete -c dockerbox -l context -d 'A docker CLI context to show (repeatable)' -r
complete -c dockerbox -l timeout -d 'Seconds an engine may take to answer before it counts as unreachable' -r
complete -c dockerbox -l complete-command -d 'For shell completion scripts: print the ways to complete TEXT (a dockerbox command line, cursor at its end), one whole new TEXT per line' -r
complete -c dockerbox -s v -l verbose -d 'Say which backend (agent or archive API) served each container'
complete -c dockerbox -l all-contexts -d 'Show every docker CLI context, plus `default`'
complete -c dockerbox -s h -l help -d 'Print help'
complete -c dockerbox -s V -l version -d 'Print version'

# dockerbox: the argument of -c is completed by dockerbox itself.
function __dockerbox_dynamic
    set -l text (commandline -ct | string trim -l -c "'\"")
    command dockerbox --complete-command "$text" 2>/dev/null
end
complete -c dockerbox -s c -x -a '(__dockerbox_dynamic)'
