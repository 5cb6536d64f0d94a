# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_dockerbox_global_optspecs
    string join \n c= color= v/verbose agent= H/host= context= all-contexts timeout= complete-command= h/help V/version
end

function __fish_dockerbox_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_dockerbox_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_dockerbox_using_subcommand
    set -l cmd (__fish_dockerbox_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c dockerbox -n "__fish_dockerbox_needs_command" -s c -d 'Run COMMANDS (a command line) and exit with its status; operands after it are $0, $1...' -r
complete -c dockerbox -n "__fish_dockerbox_needs_command" -l color -d 'When to use colours: only on a terminal (auto, honours NO_COLOR), always, or never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -n "__fish_dockerbox_needs_command" -l agent -d 'Use the in-container agent: auto (start it in the background, answer from the archive API meanwhile), always (wait for it), never (upload nothing)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -n "__fish_dockerbox_needs_command" -s H -l host -d 'An engine to show, as NAME=URL (unix://, tcp://, ssh://) or URL; repeat for several. With more than one engine the tree is /containers/HOST/NAME' -r
complete -c dockerbox -n "__fish_dockerbox_needs_command" -l context -d 'A docker CLI context to show (repeatable)' -r
complete -c dockerbox -n "__fish_dockerbox_needs_command" -l timeout -d 'Seconds an engine may take to answer before it counts as unreachable' -r
complete -c dockerbox -n "__fish_dockerbox_needs_command" -l complete-command -d 'For shell completion scripts: print the ways to complete TEXT (a dockerbox command line, cursor at its end), one whole new TEXT per line' -r
complete -c dockerbox -n "__fish_dockerbox_needs_command" -s v -l verbose -d 'Say which backend (agent or archive API) served each container'
complete -c dockerbox -n "__fish_dockerbox_needs_command" -l all-contexts -d 'Show every docker CLI context, plus `default`'
complete -c dockerbox -n "__fish_dockerbox_needs_command" -s h -l help -d 'Print help'
complete -c dockerbox -n "__fish_dockerbox_needs_command" -s V -l version -d 'Print version'
complete -c dockerbox -n "__fish_dockerbox_needs_command" -a "mount" -d 'Serve the namespace at DIR as a filesystem (FUSE) for every program: DIR/containers/NAME/... (with several engines DIR/containers/HOST/NAME/...), DIR/meta, DIR/images, DIR/volumes. Runs until unmounted (umount DIR, fusermount3 -u DIR) or interrupted'
complete -c dockerbox -n "__fish_dockerbox_needs_command" -a "volume-driver" -d 'Serve a Docker volume plugin on /run/docker/plugins/NAME.sock whose volumes are container directories: docker volume create -d NAME -o src=/containers/web/var/log weblogs'
complete -c dockerbox -n "__fish_dockerbox_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -s o -d 'Mount options, comma-separated: ro, rw, allow_other, writeback_cache' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -l agent -d 'Use the in-container agent: auto (start it in the background, answer from the archive API meanwhile), always (wait for it), never (upload nothing)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -s H -l host -d 'An engine to show, as NAME=URL (unix://, tcp://, ssh://) or URL; repeat for several. With more than one engine the tree is /containers/HOST/NAME' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -l context -d 'A docker CLI context to show (repeatable)' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -l timeout -d 'Seconds an engine may take to answer before it counts as unreachable' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -l background -d 'Return once the mount is ready; it is served in the background'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -s v -l verbose -d 'Say which backend (agent or archive API) served each container'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -l all-contexts -d 'Show every docker CLI context, plus `default`'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand mount" -s h -l help -d 'Print help'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -l name -d 'The plugin\'s name (docker volume create -d NAME)' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -l state -d 'Where the volumes (volumes.json) and their mounts (mounts/) are kept' -r -F
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -l agent -d 'Use the in-container agent: auto (start it in the background, answer from the archive API meanwhile), always (wait for it), never (upload nothing)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -s H -l host -d 'An engine to show, as NAME=URL (unix://, tcp://, ssh://) or URL; repeat for several. With more than one engine the tree is /containers/HOST/NAME' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -l context -d 'A docker CLI context to show (repeatable)' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -l timeout -d 'Seconds an engine may take to answer before it counts as unreachable' -r
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -s v -l verbose -d 'Say which backend (agent or archive API) served each container'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -l all-contexts -d 'Show every docker CLI context, plus `default`'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand volume-driver" -s h -l help -d 'Print help'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand help; and not __fish_seen_subcommand_from mount volume-driver help" -f -a "mount" -d 'Serve the namespace at DIR as a filesystem (FUSE) for every program: DIR/containers/NAME/... (with several engines DIR/containers/HOST/NAME/...), DIR/meta, DIR/images, DIR/volumes. Runs until unmounted (umount DIR, fusermount3 -u DIR) or interrupted'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand help; and not __fish_seen_subcommand_from mount volume-driver help" -f -a "volume-driver" -d 'Serve a Docker volume plugin on /run/docker/plugins/NAME.sock whose volumes are container directories: docker volume create -d NAME -o src=/containers/web/var/log weblogs'
complete -c dockerbox -n "__fish_dockerbox_using_subcommand help; and not __fish_seen_subcommand_from mount volume-driver help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

# dockerbox: the argument of -c is completed by dockerbox itself.
function __dockerbox_dynamic
    set -l text (commandline -ct | string trim -l -c "'\"")
    command dockerbox --complete-command "$text" 2>/dev/null
end
complete -c dockerbox -s c -x -a '(__dockerbox_dynamic)'
