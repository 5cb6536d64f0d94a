complete -c dockerbox -s c -d 'Run COMMANDS (separated by \';\') and exit with the last one\'s status' -r
complete -c dockerbox -l color -d 'When to use colours: only on a terminal (auto, honours NO_COLOR), always, or never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -l agent -d 'Use the in-container agent: auto (start it in the background, answer from the archive API meanwhile), always (wait for it), never (upload nothing)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -s v -l verbose -d 'Say which backend (agent or archive API) served each container'
complete -c dockerbox -s h -l help -d 'Print help'
complete -c dockerbox -s V -l version -d 'Print version'
