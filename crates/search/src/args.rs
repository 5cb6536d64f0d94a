//! GNU `getopt_long` as grep and du parse their arguments: bundled short options (`-rn`),
//! attached or separate values (`-ePAT`, `-e PAT`, `--regexp=PAT`), unambiguous long
//! prefixes (`--rec`), options after operands (GNU permutes), `--` to end them.

/// One option a tool accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub short: Option<u8>,
    pub long: &'static str,
    pub value: bool,
}

/// Why the arguments do not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// An option not in the table, as typed (`-o`, `--color`): maybe GNU's, but not ours.
    Unknown(String),
    /// GNU's own usage message (`option requires an argument -- 'e'`).
    Usage(String),
}

/// Options in the order given (by long name) with their values, then the operands.
pub type Parsed = (Vec<(&'static str, Option<Vec<u8>>)>, Vec<Vec<u8>>);

pub fn parse(argv: &[Vec<u8>], specs: &[Spec]) -> Result<Parsed, ArgError> {
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if a == b"--" {
            operands.extend(argv[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix(b"--") {
            let (name, value) = match long.iter().position(|&b| b == b'=') {
                Some(p) => (&long[..p], Some(long[p + 1..].to_vec())),
                None => (long, None),
            };
            let shown = format!("--{}", String::from_utf8_lossy(name));
            let exact = specs.iter().find(|s| s.long.as_bytes() == name);
            let cands: Vec<&Spec> = specs
                .iter()
                .filter(|s| s.long.as_bytes().starts_with(name))
                .collect();
            let spec = match (exact, cands.len()) {
                (Some(s), _) => s,
                (None, 1) => cands[0],
                (None, 0) => return Err(ArgError::Unknown(shown)),
                (None, _) => return Err(ArgError::Usage(format!("option '{shown}' is ambiguous"))),
            };
            let value = match (spec.value, value) {
                (true, Some(v)) => Some(v),
                (true, None) => match argv.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(v.clone())
                    }
                    None => {
                        return Err(ArgError::Usage(format!(
                            "option '--{}' requires an argument",
                            spec.long
                        )))
                    }
                },
                (false, Some(_)) => {
                    return Err(ArgError::Usage(format!(
                        "option '--{}' doesn't allow an argument",
                        spec.long
                    )))
                }
                (false, None) => None,
            };
            opts.push((spec.long, value));
            continue;
        }
        if a.len() > 1 && a[0] == b'-' {
            let mut j = 1;
            while j < a.len() {
                let c = a[j];
                j += 1;
                let Some(spec) = specs.iter().find(|s| s.short == Some(c)) else {
                    return Err(ArgError::Unknown(format!(
                        "-{}",
                        char::from(c).escape_default()
                    )));
                };
                if !spec.value {
                    opts.push((spec.long, None));
                    continue;
                }
                let v = if j < a.len() {
                    let v = a[j..].to_vec();
                    j = a.len();
                    v
                } else if let Some(v) = argv.get(i) {
                    i += 1;
                    v.clone()
                } else {
                    return Err(ArgError::Usage(format!(
                        "option requires an argument -- '{}'",
                        char::from(c).escape_default()
                    )));
                };
                opts.push((spec.long, Some(v)));
            }
            continue;
        }
        operands.push(a.clone());
    }
    Ok((opts, operands))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec {
            short: Some(b'n'),
            long: "line-number",
            value: false,
        },
        Spec {
            short: Some(b'e'),
            long: "regexp",
            value: true,
        },
        Spec {
            short: None,
            long: "max-depth",
            value: true,
        },
    ];

    fn v(a: &[&str]) -> Vec<Vec<u8>> {
        a.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn gnu_forms() {
        let (o, ops) = parse(
            &v(&["-neX", "f", "--line", "--max-depth=2", "g", "--", "-n"]),
            SPECS,
        )
        .unwrap();
        assert_eq!(
            o,
            vec![
                ("line-number", None),
                ("regexp", Some(b"X".to_vec())),
                ("line-number", None),
                ("max-depth", Some(b"2".to_vec()))
            ]
        );
        assert_eq!(ops, v(&["f", "g", "-n"]));
        assert_eq!(
            parse(&v(&["-o"]), SPECS),
            Err(ArgError::Unknown("-o".into()))
        );
        assert_eq!(
            parse(&v(&["--color=auto"]), SPECS),
            Err(ArgError::Unknown("--color".into()))
        );
        assert!(matches!(parse(&v(&["-e"]), SPECS), Err(ArgError::Usage(_))));
        let (o, _) = parse(&v(&["-e", "-x"]), SPECS).unwrap();
        assert_eq!(o, vec![("regexp", Some(b"-x".to_vec()))]);
    }
}
