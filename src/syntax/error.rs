//! Why a line does not parse: the one error type of the lexer, the alias expander and the
//! parser, below all three so the lexer does not depend on the parser.

/// Why a line does not parse, and where (a byte offset into the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct SyntaxError {
    pub pos: usize,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A token where it cannot go: `| ls`, `ls ;;`, `ls >` (the token is `newline`).
    #[error("syntax error near unexpected token '{0}'")]
    UnexpectedToken(String),
    /// The line stops where more must follow: `ls |`, `a &&`, a trailing `\`.
    #[error("syntax error: unexpected end of file")]
    UnexpectedEof,
    /// An open quote or `${` with no closing character.
    #[error("unexpected EOF while looking for matching '{0}'")]
    Unterminated(char),
    /// sh syntax dockerbox recognises but does not run: `$(...)`, `&`, `(...)`, `<<`, `if`...
    #[error("{0} is not supported")]
    Unsupported(String),
    /// `${}`
    #[error("{0}: bad substitution")]
    BadSubstitution(String),
    /// `2>&file`: a dup needs an fd number.
    #[error("{0}: ambiguous redirect")]
    AmbiguousRedirect(String),
    #[error("file descriptor out of range")]
    FdOutOfRange,
    /// An alias value that does not lex; the position is the alias name's.
    #[error("alias '{name}': {inner}")]
    InAlias { name: String, inner: Box<ErrorKind> },
}

impl SyntaxError {
    /// Whether a continuation line could complete the input (open quote, trailing `|` or `&&`):
    /// the REPL asks for one, a script joins the next line.
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::UnexpectedEof | ErrorKind::Unterminated(_)
        )
    }
}
