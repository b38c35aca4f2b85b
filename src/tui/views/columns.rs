//! Table columns that fit: the least important ones are dropped until the rest fit the width.
//! An over-full set of constraints has no single solution, and ratatui's solver then picks one
//! differently from run to run; fitting first keeps every frame (and snapshot) deterministic.

use ratatui::layout::Constraint;
use ratatui::widgets::{Cell, Row};

pub struct Column {
    pub header: &'static str,
    pub width: u16,
    /// 0 is always kept; higher numbers are dropped first.
    pub drop_order: u8,
}

pub const fn col(header: &'static str, width: u16, drop_order: u8) -> Column {
    Column { header, width, drop_order }
}

/// The indexes of the columns that fit in `available` cells (one space between columns).
pub fn fit(columns: &[Column], available: u16) -> Vec<usize> {
    let mut kept: Vec<usize> = (0..columns.len()).collect();
    let total = |kept: &[usize]| -> u32 {
        kept.iter().map(|&i| u32::from(columns[i].width)).sum::<u32>()
            + u32::try_from(kept.len()).unwrap_or(0).saturating_sub(1)
    };
    while total(&kept) > u32::from(available) {
        let Some(worst) =
            kept.iter().copied().filter(|&i| columns[i].drop_order > 0).max_by_key(|&i| (columns[i].drop_order, i))
        else {
            break;
        };
        kept.retain(|&i| i != worst);
    }
    kept
}

/// Exact widths for the kept columns; the last one takes what is left.
pub fn constraints(columns: &[Column], kept: &[usize]) -> Vec<Constraint> {
    kept.iter()
        .enumerate()
        .map(|(n, &i)| if n + 1 == kept.len() { Constraint::Fill(1) } else { Constraint::Length(columns[i].width) })
        .collect()
}

pub fn header_row(columns: &[Column], kept: &[usize]) -> Row<'static> {
    Row::new(kept.iter().map(|&i| Cell::from(columns[i].header)))
}

/// One row of the kept cells, from all of a row's cells in column order.
pub fn row<'a>(cells: Vec<Cell<'a>>, kept: &[usize]) -> Row<'a> {
    let mut cells: Vec<Option<Cell<'a>>> = cells.into_iter().map(Some).collect();
    Row::new(kept.iter().filter_map(|&i| cells.get_mut(i).and_then(Option::take)))
}

/// Which rows of `len` a table `visible` rows high shows so that `selected` is on screen, and
/// where the selection falls in that window. Only the window's rows are built: a view of
/// thousands of statements then costs what a screenful does.
pub fn window(len: usize, selected: usize, visible: usize) -> (std::ops::Range<usize>, usize) {
    let selected = selected.min(len.saturating_sub(1));
    let start = selected.saturating_sub(visible.saturating_sub(1));
    (start..len.min(start + visible.max(1)), selected - start)
}

/// The rows a bordered table with a header row can show in `area`.
pub fn visible_rows(area: ratatui::layout::Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_least_important_first_and_keeps_the_essential() {
        let columns = [col("A", 20, 0), col("B", 10, 2), col("C", 10, 1), col("D", 10, 3)];
        assert_eq!(fit(&columns, 100), [0, 1, 2, 3]);
        assert_eq!(fit(&columns, 42), [0, 1, 2]);
        assert_eq!(fit(&columns, 31), [0, 2]);
        assert_eq!(fit(&columns, 5), [0]);
    }

    #[test]
    fn the_window_follows_the_selection() {
        assert_eq!(window(100, 0, 10), (0..10, 0));
        assert_eq!(window(100, 9, 10), (0..10, 9));
        assert_eq!(window(100, 25, 10), (16..26, 9));
        assert_eq!(window(100, 500, 10), (90..100, 9));
        assert_eq!(window(3, 1, 10), (0..3, 1));
        assert_eq!(window(0, 0, 10), (0..0, 0));
    }
}
