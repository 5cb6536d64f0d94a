//! The shell language over the namespace (issue 15): loops, substitutions, `test`, here-documents
//! and `case` reaching into containers, names staying bytes, and loops streaming into `head`.

use std::ffi::OsStr;

use crate::util::{Sandbox, TestShell, Tmux, BUSYBOX};

#[test]
fn loops_and_substitutions_over_containers() {
    let Some(mut sb) = Sandbox::new("langloop") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &["--hostname", "alpha"]);
    let b = sb.run("b", BUSYBOX, &["--hostname", "beta"]);
    let sh = TestShell::new();
    let line = format!(
        "for c in /containers/{a} /containers/{b}; do echo \"${{c##*-}}: $(cat $c/etc/hostname)\"; done"
    );
    assert_eq!(sh.c(&line).ok(), "a: alpha\nb: beta\n");
    // `test` and `[[ ]]` ask the namespace.
    let line = format!(
        "[ -f /containers/{a}/etc/passwd ] && echo file; [ -d /containers/{a}/etc ] && echo dir; \
         test -e /containers/{a}/nope || echo missing; [[ -s /containers/{a}/etc/hostname ]] && echo size; \
         [ -x /containers/{a}/bin/busybox ] && echo exec"
    );
    assert_eq!(sh.c(&line).ok(), "file\ndir\nmissing\nsize\nexec\n");
    // `grep -c ... || true`: a status in a list, and `$?`.
    let line = format!("grep -c nomatch /containers/{a}/etc/passwd || true; echo $?");
    assert_eq!(sh.c(&line).ok(), "0\n0\n");
}

#[test]
fn here_documents_into_container_files() {
    let Some(mut sb) = Sandbox::new("langheredoc") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    let line = format!(
        "X=world\ncat > /containers/{c}/tmp/job.sh <<'EOF'\necho $X\nEOF\n\
         cat <<EOF >> /containers/{c}/tmp/job.sh\necho hello $X\nEOF\ncat /containers/{c}/tmp/job.sh\n\
         [ /containers/{c}/tmp/job.sh -nt /containers/{c}/etc/passwd ] && echo newer"
    );
    assert_eq!(sh.c(&line).ok(), "echo $X\necho hello world\nnewer\n");
    assert_eq!(
        sb.exec(&c, &["cat", "/tmp/job.sh"]).trim_end(),
        "echo $X\necho hello world"
    );
}

#[test]
fn hostile_names_survive_for_read_and_case() {
    let Some(mut sb) = Sandbox::new("langnames") else {
        return;
    };
    let c = sb.run("c", BUSYBOX, &[]);
    let sh = TestShell::new();
    // A newline, a leading dash, `$(...)` and a byte that is not UTF-8.
    let made = format!(
        "cd /containers/{c}/tmp && touch $'a\\nb' -- -rf '$(touch pwned)' $'caf\\xe9'; \
         for f in /containers/{c}/tmp/*; do case $f in *pwned*) echo sub;; *$'\\xe9') echo latin;; \
         *-rf) echo dash;; *) printf '%s|' \"$f\" | od -c | head -1 >/dev/null; echo other;; esac; done"
    );
    let r = sh.c(&made);
    assert_eq!(r.ok(), "sub\ndash\nother\nlatin\n");
    let r = sh.c(&format!(
        "ls /containers/{c}/tmp | while read -r n; do echo \"<$n>\"; done; ls /containers/{c}/tmp/pwned 2>/dev/null || echo none"
    ));
    let out = r.stdout.clone();
    assert!(
        out.starts_with(b"<$(touch pwned)>\n<-rf>\n<a>\n<b>\n<caf\xe9>\n"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(r.out().ends_with("none\n"));
}

#[test]
fn loops_stream_into_head() {
    let sh = TestShell::new();
    // Without streaming these would never end: the loop is endless and `yes` unbounded.
    let r = sh.c("while true; do echo y; done | head -1; for i in 1 2; do yes; done | head -2; { yes; } | head -1");
    assert_eq!(r.ok(), "y\ny\ny\ny\n");
}

#[test]
fn functions_subshells_and_jobs() {
    let sh = TestShell::new();
    let r = sh.c(
        "f() { local x=$1; shift; echo \"$x:$#:$*\"; return 4; }; f a b c; echo $?; \
         (cd /; x=1; exit 3); echo \"$? ${x-unset} $(pwd | wc -c | tr -d ' ')\"; \
         sleep 0.1 & wait $!; echo bg $?; x=$(exit 5); echo $?",
    );
    let pwd_len = sh.c("pwd | wc -c | tr -d ' '").ok();
    assert_eq!(r.ok(), format!("a:2:b c\n4\n3 unset {}bg 0\n5\n", pwd_len));
    let r = sh.c("set -e; false || echo ok; if false; then :; fi; false; echo never");
    assert_eq!((r.out(), r.status), ("ok\n".to_string(), 1));
    let r = sh.c("set -u; echo $nope; echo never");
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: nope: unbound variable\n", 1)
    );
    let r = sh.c("trap 'echo bye' EXIT; echo hi");
    assert_eq!(r.ok(), "hi\nbye\n");
    let r = sh.c("alias hi='echo hello'\nhi");
    assert_eq!(r.ok(), "hello\n");
    // A prefix assignment sees the ones before it; `~` after `:` in an assignment expands.
    let r = sh.c("A=1 B=[$A] env | grep '^B='; HOME=/h; P=~/bin:~/x; echo $P");
    assert_eq!(r.ok(), "B=[1]\n/h/bin:/h/x\n");
}

#[test]
fn arrays_over_containers() {
    let Some(mut sb) = Sandbox::new("langarrays") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &["--hostname", "alpha"]);
    let b = sb.run("b", BUSYBOX, &["--hostname", "beta"]);
    let sh = TestShell::new();
    // An array of container paths, indexed, counted, sliced, and each one's file read.
    let line = format!(
        "cs=(/containers/{a} /containers/{b}); echo ${{#cs[@]}}; \
         for c in \"${{cs[@]}}\"; do h[${{#h[@]}}]=$(cat $c/etc/hostname); done; \
         echo \"${{h[*]}}\" ${{!h[@]}} \"${{h[-1]}}\" \"${{cs[@]:1}}\" | sed 's|/containers/||'; \
         declare -A by; by[$(cat /containers/{a}/etc/hostname)]=1; declare -p by"
    );
    assert_eq!(
        sh.c(&line).ok(),
        format!("2\nalpha beta 0 1 beta {b}\ndeclare -A by=([alpha]=\"1\" )\n")
    );
    // PIPESTATUS, unset of an element, arithmetic on elements.
    let r = sh.c(
        "true | false | (exit 3); echo ${PIPESTATUS[@]}; n=(5 6 7); unset 'n[1]'; \
         (( n[0] += n[2] )); echo ${n[@]} ${!n[@]}; f() { local -a l=(x); declare -p l; }; f",
    );
    assert_eq!(r.ok(), "0 1 3\n12 7 0 2\ndeclare -a l=([0]=\"x\")\n");
    // A compound command leaves what its commands set; a subshell sets its own status.
    let r = sh.c(
        "case x in y) ;; esac; echo \"[${PIPESTATUS[@]}]\"; true | false; for i in; do :; done; \
         echo ${PIPESTATUS[@]}; if :; then (exit 3); fi; echo ${PIPESTATUS[@]}",
    );
    assert_eq!(r.ok(), "[]\n0 1\n3\n");
}

#[test]
fn printf_read_and_echo_are_bash_s() {
    let sh = TestShell::new();
    let r = sh.c(
        "printf '%s|%5.2s|%-4d|%x|%q|%b\\n' abc xyz 42 255 'a b' 'x\\ty'; printf -v v '%03d' 7; \
         echo $v; printf '%d\\n' 3x; echo $?; echo -e '\\u00e9\\x41\\0101'; \
         read -u 3 -d 5 3<<EOF\n123456\nEOF\necho \"$REPLY\"; printf '  a b  \\n' | { read; echo \"[$REPLY]\"; }; \
         v='it'\\''s'; echo ${v@Q}",
    );
    assert_eq!(
        (r.out(), r.status),
        (
            "abc|   xy|42  |ff|a\\ b|x\ty\n007\n3\n1\néAA\n1234\n[  a b  ]\n'it'\\''s'\n"
                .to_string(),
            0
        )
    );
    assert_eq!(r.stderr, "dockerbox: printf: 3x: invalid number\n");
}

#[test]
fn special_variables() {
    let sh = TestShell::new();
    let r = sh.c(
        "echo one\necho $LINENO\nfor i in 1; do\n  echo $LINENO\ndone\necho \"hi there\"; echo \"$_\"; \
         [ \"$PPID\" -gt 0 ] && [ \"$UID\" -ge 0 ] && echo ids; p=$BASHPID; ( [ $BASHPID != $p ] && echo sub )",
    );
    assert_eq!(r.ok(), "one\n2\n4\nhi there\nhi there\nids\nsub\n");
}

#[test]
fn cd_and_pwd_as_in_bash() {
    let sh = TestShell::new();
    let r = sh.c(
        "cd $HOME && mkdir -p t/target t/sp/inner && ln -s $HOME/t/target $HOME/t/link && cd t/link; \
         basename $PWD; basename $(pwd -P); cd -P $HOME/t/link; basename $PWD; \
         env | grep -c '^OLDPWD='; cd nope/.. 2>/dev/null || echo refused; \
         CDPATH=$HOME/t/sp cd inner | sed \"s|$HOME||\"; PWD=set; echo $PWD; \
         mkdir $HOME/gone && cd $HOME/gone && rmdir $HOME/gone && /bin/echo still runs",
    );
    assert_eq!(
        r.ok(),
        "link\ntarget\ntarget\n1\nrefused\n/t/sp/inner\nset\nstill runs\n"
    );
}

#[test]
fn builtins_read_their_arguments_as_bash() {
    let sh = TestShell::new();
    let r = sh.c(
        "eval -- echo e; trap 'echo x' EXIT INT; trap 0 2; trap; set - a +; echo \"$@\"; \
         HOME=/h; echo {a,~}/b; f() { return; }; f; echo f=$?; readonly R=1; R=2; echo after=$?; \
         while true; do break x; done; echo never",
    );
    assert_eq!(
        (r.out(), r.status),
        ("e\na +\na/b /h/b\nf=0\nafter=1\n".to_string(), 128)
    );
    assert_eq!(
        r.stderr,
        "dockerbox: R: readonly variable\ndockerbox: break: x: numeric argument required\n"
    );
    let r = sh.c("echo ${a&}; echo never");
    assert_eq!(
        (r.out(), r.stderr.as_str(), r.status),
        (String::new(), "dockerbox: ${a&}: bad substitution\n", 1)
    );
}

#[test]
fn bash_command_line_flags_and_operands() {
    let sh = TestShell::new();
    // `-c CMD ARG0 ARGS...`, clustered flags, `-o`/`+o`, and bash's startup flags accepted.
    let r = sh.args(&["-c", "echo $0 $1 ${2} $#", "a", "b", "-c"]);
    assert_eq!(r.ok(), "a b -c 2\n");
    let r = sh.args(&[
        "--norc",
        "--noprofile",
        "-eu",
        "-o",
        "pipefail",
        "-c",
        "false | true; echo never",
    ]);
    assert_eq!((r.out(), r.status), (String::new(), 1));
    let r = sh.args(&["-e", "+o", "errexit", "-c", "false; echo $-"]);
    assert_eq!(r.ok(), "hB\n");
    let r = sh.args(&["-i", "-c", "case $- in *i*) echo interactive;; esac"]);
    assert_eq!(r.ok(), "interactive\n");
    let r = sh.args(&["-u", "-c", "echo $nope; echo never"]);
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: nope: unbound variable\n", 1)
    );
    // A script's operands are $1..., even when they look like options; `-s` reads stdin.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.sh");
    std::fs::write(&script, "echo \"$0\" \"$@\"\n").unwrap();
    let r = sh.args(&[script.as_os_str(), OsStr::new("-a"), OsStr::new("b")]);
    assert_eq!(r.ok(), format!("{} -a b\n", script.display()));
    let r = sh.opts(&["-s", "x", "-y"]).stdin(b"echo $# $@\n");
    assert_eq!(r.ok(), "2 x -y\n");
    // Usage errors are one line, status 2.
    let r = TestShell::new().args(&["-Q"]);
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: unexpected argument '-Q' found\n", 2)
    );
    let r = TestShell::new().args(&["-c"]);
    assert_eq!(
        (r.stderr.as_str(), r.status),
        ("dockerbox: -c: option requires an argument\n", 2)
    );
}

#[test]
fn named_descriptors_moves_and_the_program_table() {
    let sh = TestShell::new();
    // `{fd}>` picks a descriptor from 10 and names it; `6>&5-` moves one; `>&$file` is a file.
    let r = sh.c(
        "exec {fd}>named.txt; echo $fd; echo one >&$fd; exec {fd}>&-; echo lost >&$fd; \
         exec 5>moved.txt; exec 6>&5-; echo gone >&5; echo two >&6; exec 6>&-; \
         f=$PWD/file.txt; echo three >&$f; cat named.txt moved.txt file.txt",
    );
    assert_eq!(r.out(), "10\none\ntwo\nthree\n");
    assert_eq!(
        r.stderr,
        "dockerbox: 10: Bad file descriptor\ndockerbox: 5: Bad file descriptor\n"
    );
    // A program found in PATH is remembered until `hash -r` (or PATH changes).
    let r = sh.c(
        "mkdir -p one two; PATH=$PWD/one:$PWD/two:$PATH; printf 'echo two\\n' > two/c; \
         chmod +x two/c; c; printf 'echo one\\n' > one/c; chmod +x one/c; c; hash | grep -c /two/c; \
         hash -r; c; hash nope-nope; echo $?",
    );
    assert_eq!(r.out(), "two\ntwo\n1\none\n1\n");
    assert_eq!(r.stderr, "dockerbox: hash: nope-nope: not found\n");
}

#[test]
fn errexit_and_nounset_follow_bash() {
    let sh = TestShell::new();
    // A group that failed inside `&&` does not stop `set -e`; a function or subshell does.
    let r =
        sh.c("set -e; { test a = b && echo no; }; echo group $?; ( false && true ); echo never");
    assert_eq!((r.out(), r.status), ("group 1\n".to_string(), 1));
    // Interactive (-i): an unset variable drops the rest of the line, not the shell.
    let r = sh.args(&[
        "-i",
        "-c",
        "set -u; echo before; echo $nope; echo after\necho next",
    ]);
    assert_eq!((r.out(), r.status), ("before\nnext\n".to_string(), 0));
}

#[test]
fn getopts_starts_over_for_new_arguments() {
    let sh = TestShell::new();
    // At the end OPTIND names the first operand (at most $# + 1) and OPTARG is unset.
    let r = sh.c(
        "set -- -h -c foo x; while getopts hc: o; do :; done; echo $OPTIND; \
         set --; getopts hc: o; echo $OPTIND; getopts c: o -c10; getopts c: o -c10; \
         echo $OPTIND $o ${OPTARG-unset}",
    );
    assert_eq!(r.ok(), "4\n1\n2 ? unset\n");
}

#[test]
fn wait_takes_job_specs_and_n() {
    let sh = TestShell::new();
    let r = sh.c(
        "{ sleep 0.3; exit 9; } & { sleep 0.05; exit 3; } & jobs -p | wc -l | tr -d ' '; \
         wait -n; echo n=$?; wait -n; echo n=$?; wait -n; echo none=$?; \
         (exit 7) & wait %+; echo last=$?; (exit 5) & (exit 6) & wait %3 %-; echo spec=$?; \
         wait %9; echo nojob=$?; wait zzz; echo bad=$?",
    );
    assert_eq!(
        r.out(),
        "2\nn=3\nn=9\nnone=127\nlast=7\nspec=5\nnojob=127\nbad=1\n"
    );
}

#[test]
fn norc_skips_the_rc_file() {
    if !std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return;
    }
    let sh = TestShell::new();
    std::fs::write(
        sh.home.path().join(".dockerboxrc"),
        "echo rc-ran\nalias hi='echo rc-alias'\n",
    )
    .unwrap();
    // Without --norc the rc file runs; with it, neither its output nor its alias is there.
    let t = Tmux::start(&sh, &[]);
    t.wait_for("the rc file", |s| s.contains("rc-ran"));
    let t = Tmux::start(&sh, &["--norc"]);
    t.wait_for("prompt", |s| s.contains("$"));
    t.keys(&["hi || echo no-alias", "Enter"]);
    let s = t.wait_for("the line", |s| s.contains("\nno-alias"));
    assert!(!s.contains("rc-ran") && !s.contains("rc-alias"), "{s}");
}

#[test]
fn arithmetic_for_loops_and_errors_in_arithmetic() {
    let sh = TestShell::new();
    let r =
        sh.c("for ((i = 0; i < 3; i++)); do echo $i; done; for ((;;)); do echo once; break; done");
    assert_eq!(r.ok(), "0\n1\n2\nonce\n");
    // `continue` still runs the step; `{ }` is a body too; the loop's status is its body's.
    let r = sh.c("for ((i=0; i<5; i++)) { [ $i = 1 ] && continue; echo $i; [ $i = 3 ] && break; }; echo st=$?");
    assert_eq!(r.ok(), "0\n2\n3\nst=0\n");
    // bash: an error in `$((...))` drops the rest of the line and the script goes on; a name
    // that is not a variable's is refused when the loop runs.
    let r = sh
        .c("echo $((1 +)); echo same-line\necho next=$?\nfor - in a; do echo no; done; echo st=$?");
    assert_eq!(r.out(), "next=1\nst=1\n");
    assert!(
        r.stderr.contains("`-': not a valid identifier"),
        "{}",
        r.stderr
    );
    assert_eq!(r.status, 0);
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_cancelled_thread_job_ends_its_host_programs_whole_groups() {
    let sh = TestShell::new();
    // The job is a thread (a group); its `sh` leads a process group of its own, whose `sleep`
    // must go with it when the job is killed, as with sh's `kill %1`.
    let r = sh.c(
        "{ sh -c 'sleep 1000 & echo $! > inner.pid; wait' >/dev/null 2>&1; } & \
         n=0; until [ -s inner.pid ] || [ $n = 6000 ]; do sleep 0.01; n=$((n+1)); done; kill %1; wait %1; echo st=$?; cat inner.pid",
    );
    let out = r.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("st=143"), "{out}");
    let pid = lines.next().unwrap_or_default().to_string();
    assert!(pid.parse::<u32>().is_ok(), "{out}");
    // Whatever happens, the sleep does not outlive the test.
    struct Reap(String);
    impl Drop for Reap {
        fn drop(&mut self) {
            if !dead(&self.0) {
                let _ = std::process::Command::new("kill").arg(&self.0).status();
            }
        }
    }
    let _reap = Reap(pid.clone());
    crate::util::wait_until(&format!("the job's sleep {pid} to end with it"), || {
        dead(&pid)
    });
}

/// The bash idioms of issue 15, each over container files: `[[ ]]` with patterns, `=~` (its
/// groups in BASH_REMATCH) and `&&`/`||`, `(( ))`, brace expansion, `${x/a/b}`, `${x//a/b}`,
/// `${x:off:len}`, `<(...)` and `>(...)`, `|&`, `&>`, `set -o pipefail`, `$RANDOM`,
/// `$LINENO`, `$'...'`.
#[test]
fn bash_idioms_over_the_namespace() {
    let Some(mut sb) = Sandbox::new("langidioms") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &["--hostname", "alpha"]);
    let b = sb.run("b", BUSYBOX, &["--hostname", "beta"]);
    let sh = TestShell::new();
    let script = r#"A=/containers/{a} B=/containers/{b}
h=$(cat $A/etc/hostname)
[[ $h == al* && $h =~ ^(a)(l) ]] && echo "match ${BASH_REMATCH[2]} ${#BASH_REMATCH[@]}"
[[ $h != b* || -z $h ]] && echo not-b
(( ${#h} * 2 == 10 )) && echo len
echo $A/etc/{hostname,passwd} | sed "s|$A||g"
echo {1..3} {01..03} {a..c}
echo ${h/a/A} ${h//a/A} ${h:1:3} ${h: -2}
diff <(cat $A/etc/hostname) <(cat $B/etc/hostname) >/dev/null || echo differ
cat $A/nope |& grep -c 'No such file'
{ echo out; echo err >&2; } &> $A/tmp/both; cat $A/tmp/both
set -o pipefail; false | true; echo pipefail=$?; set +o pipefail; false | true; echo plain=$?
echo $RANDOM $RANDOM $RANDOM
echo $'tab\there' | grep -c $'\t'
echo line=$LINENO
echo $h > >(tr a-z A-Z)"#
        .replace("{a}", &a)
        .replace("{b}", &b);
    let r = sh.c(&script);
    let out = r.ok();
    let (head, tail) = out.split_at(out.find("pipefail=").unwrap_or(0));
    assert_eq!(
        head,
        "match l 3\nnot-b\nlen\n/etc/hostname /etc/passwd\n1 2 3 01 02 03 a b c\n\
         Alpha AlphA lph ha\ndiffer\n1\nout\nerr\n",
        "{}",
        r.stderr
    );
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines[..2], ["pipefail=1", "plain=0"], "{out}");
    let random: Vec<u32> = lines[2].split(' ').filter_map(|n| n.parse().ok()).collect();
    assert!(
        random.len() == 3
            && random.iter().all(|&n| n <= 32767)
            && random.windows(2).any(|w| w[0] != w[1]),
        "{out}"
    );
    assert_eq!(lines[3..], ["1", "line=15", "ALPHA"], "{out}");
    assert_eq!(sb.exec(&a, &["cat", "/tmp/both"]), "out\nerr");
}

/// POSIX pieces over container files: `set -x`/`-f`/`-C` (and `>|`), `umask` (a subshell's
/// own), `<>` refused there (only host files are opened both ways), `exec N>` into a container
/// file landing when closed, `<<-` and two here-documents on a line, `elif`, `break 2` and
/// `continue 2`, `${10}` and `shift`, `trap ERR`, `.` and `source` of a container file, `type
/// -t`, nested backquotes, trailing newlines of `$(...)`, `until`, `!`, `eval`.
#[test]
fn posix_pieces_over_the_namespace() {
    let Some(mut sb) = Sandbox::new("langposix") else {
        return;
    };
    let a = sb.run("a", BUSYBOX, &[]);
    let sh = TestShell::new();
    let script = r#"A=/containers/{a}
set -x; echo traced; set +x
set -f; echo /containers/*; set +f
set -C; echo a > $A/tmp/f; echo b > $A/tmp/f || echo refused; echo c >| $A/tmp/f; cat $A/tmp/f; set +C
umask 027; umask; (umask 0; umask); umask; umask -S
echo data > $A/tmp/rw; exec 3<> $A/tmp/rw || echo rw-refused
exec 4> $A/tmp/held; echo one >&4; echo two >&4; exec 4>&-; cat $A/tmp/held
l=x
	cat <<-EOT; cat <<'X'
	tabbed $l
	EOT
literal $l
X
if false; then :; elif true; then echo elif; else :; fi
for i in 1 2 3; do for j in 1 2; do [ $j = 2 ] && continue 2; [ $i = 3 ] && break 2; echo $i$j; done; done
f() { echo ${10} $#; shift 9; echo $1; }; f 1 2 3 4 5 6 7 8 9 ten
trap 'echo err-trapped' ERR; false; trap - ERR; false
echo 'echo sourced $1' > $A/tmp/s.sh; . $A/tmp/s.sh one; source $A/tmp/s.sh two
type -t f cd if
echo `echo \`echo nested\``; x=$(printf 'a\n\n\n'); echo "[$x]"
until [ "${n:=0}" -ge 2 ]; do n=$((n+1)); done; echo until=$n
! false && echo negated
eval 'echo evaled $#'"#
        .replace("{a}", &a);
    let r = sh.c(&script);
    assert_eq!(
        r.out(),
        "traced\n/containers/*\nrefused\nc\n0027\n0000\n0027\nu=rwx,g=rx,o=\nrw-refused\n\
         one\ntwo\ntabbed x\nliteral $l\nelif\n11\n21\nten 10\nten\nerr-trapped\n\
         sourced one\nsourced two\nfunction\nbuiltin\nkeyword\nnested\n[a]\nuntil=2\n\
         negated\nevaled 0\n",
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr,
        format!(
            "+ echo traced\n+ set +x\n\
             dockerbox: /containers/{a}/tmp/f: cannot overwrite existing file\n\
             dockerbox: /containers/{a}/tmp/rw: <> opens host files only (a container file \
             is read with < and written with > or >>)\n"
        )
    );
    assert_eq!(sb.exec(&a, &["cat", "/tmp/held"]), "one\ntwo");
}
