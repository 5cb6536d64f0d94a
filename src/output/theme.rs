//! Colour, decided once per session from `--color`, the terminal and `NO_COLOR`/`LS_COLORS`.

use nu_ansi_term::{Color, Style};

use super::lscolors::LsColors;
use crate::host::State;
use crate::vfs::{Entry, Object};

/// What to colour and how. With `enabled == false` every renderer prints plain text.
#[derive(Debug, Clone)]
pub struct Theme {
    pub enabled: bool,
    ls: LsColors,
}

impl Theme {
    pub fn new(enabled: bool, ls_colors: Option<&str>) -> Theme {
        Theme {
            enabled,
            ls: LsColors::parse(ls_colors),
        }
    }

    #[cfg(test)]
    pub fn plain() -> Theme {
        Theme::new(false, None)
    }

    /// Wraps an already rendered name in the entry's colour.
    pub fn paint(&self, e: &Entry, text: &[u8]) -> Vec<u8> {
        if !self.enabled {
            return text.to_vec();
        }
        let sgr: Option<String> = match (&e.container, e.object.as_deref()) {
            // Containers are coloured by state whatever LS_COLORS says.
            (Some(c), _) => Some(state_style(c.state).prefix().to_string()),
            // Other Docker objects by kind, apart from containers and plain directories.
            (None, Some(o)) => Some(object_style(o).prefix().to_string()),
            (None, None) => self.ls.style(e).map(|s| format!("\x1b[{s}m")),
        };
        match sgr {
            Some(prefix) => {
                let mut v = prefix.into_bytes();
                v.extend_from_slice(text);
                v.extend_from_slice(b"\x1b[0m");
                v
            }
            None => text.to_vec(),
        }
    }

    /// The prompt: the directory in bold blue, like most distributions' bash prompt.
    pub fn prompt(&self, dir: &str) -> String {
        if self.enabled {
            format!("{}$ ", Color::Blue.bold().paint(dir))
        } else {
            format!("{dir}$ ")
        }
    }
}

/// Running green, paused yellow, anything not running red.
pub fn state_style(s: State) -> Style {
    match s {
        State::Running => Color::Green.normal(),
        State::Paused | State::Restarting => Color::Yellow.normal(),
        _ => Color::Red.normal(),
    }
}

/// Images magenta, volumes cyan: none of the container states' colours, nor a plain
/// directory's blue.
pub fn object_style(o: &Object) -> Style {
    match o {
        Object::Image { .. } => Color::Magenta.normal(),
        Object::Volume { .. } => Color::Cyan.normal(),
    }
}
