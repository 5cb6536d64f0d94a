//! The grid and one-per-line layouts.

use std::io::{self, Write};

use super::{display_name, width, Theme};
use crate::vfs::Entry;

/// Prints names in columns filled top to bottom, fitting `term_width` like GNU ls (two spaces
/// between columns, as many columns as fit).
pub fn render_grid(
    w: &mut dyn Write,
    entries: &[Entry],
    theme: &Theme,
    tty: bool,
    term_width: usize,
) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let names: Vec<Vec<u8>> = entries.iter().map(|e| display_name(&e.name, tty)).collect();
    let widths: Vec<usize> = names.iter().map(|n| width(n)).collect();
    let (rows, col_widths) = fit(&widths, term_width);
    for r in 0..rows {
        let mut c = 0;
        while let Some(i) = index(r, c, rows, names.len()) {
            let last = index(r, c + 1, rows, names.len()).is_none();
            w.write_all(&theme.paint(&entries[i], &names[i]))?;
            if !last {
                let pad = col_widths[c] - widths[i];
                write!(w, "{:pad$}", "", pad = pad + 2)?;
            }
            c += 1;
        }
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// One name per line.
pub fn render_lines(
    w: &mut dyn Write,
    entries: &[Entry],
    theme: &Theme,
    tty: bool,
) -> io::Result<()> {
    for e in entries {
        w.write_all(&theme.paint(e, &display_name(&e.name, tty)))?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

fn index(row: usize, col: usize, rows: usize, n: usize) -> Option<usize> {
    let i = col * rows + row;
    (i < n).then_some(i)
}

/// The fewest rows whose columns fit in `total` width; returns rows and each column's width.
fn fit(widths: &[usize], total: usize) -> (usize, Vec<usize>) {
    let n = widths.len();
    for rows in 1..=n {
        let cols = n.div_ceil(rows);
        let col_widths: Vec<usize> = (0..cols)
            .map(|c| {
                (0..rows)
                    .filter_map(|r| index(r, c, rows, n))
                    .map(|i| widths[i])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = col_widths.iter().sum::<usize>() + 2 * (cols - 1);
        if line <= total || rows == n {
            return (rows, col_widths);
        }
    }
    (n, vec![widths.iter().copied().max().unwrap_or(0)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::Kind;

    fn grid(names: &[&str], w: usize) -> String {
        let entries: Vec<Entry> = names.iter().map(|n| Entry::new(*n, Kind::File)).collect();
        let mut out = Vec::new();
        render_grid(&mut out, &entries, &Theme::plain(), true, w).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fills_columns_top_to_bottom() {
        assert_eq!(grid(&["a", "bb", "c", "dd", "e"], 80), "a  bb  c  dd  e\n");
        assert_eq!(
            grid(&["aaaa", "bb", "cccc", "dd", "e"], 12),
            "aaaa  dd\nbb    e\ncccc\n"
        );
        assert_eq!(grid(&["toolongname"], 4), "toolongname\n");
    }
}
