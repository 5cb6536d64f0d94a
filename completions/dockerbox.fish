complete -c dockerbox -s c -d 'Run COMMANDS (separated by \';\') and exit with the last one\'s status' -r
complete -c dockerbox -l color -d 'When to use colours: only on a terminal (auto, honours NO_COLOR), always, or never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -s v -l verbose -d 'Say which backend served each container access'
complete -c dockerbox -s h -l help -d 'Print help'
complete -c dockerbox -s V -l version -d 'Print version'
