//! Monitor layouts: a grid of rows × columns and the tiles placed on it (see the module
//! documentation of [`crate::walls`] for the named layouts).

use serde::{Deserialize, Serialize};

use crate::domain::FieldError;

/// The largest grid: at most this many rows and this many columns.
pub const MAX_GRID: u32 = 8;
/// The named layouts, by their tile count.
pub const NAMED_LAYOUTS: [u32; 6] = [1, 4, 6, 8, 9, 16];

fn one() -> u32 {
    1
}

/// One tile of a layout: the cell of its top-left corner (0-based) and how many rows and
/// columns it spans (default 1). Serialized as `{"row": 0, "col": 0, "row_span": 2,
/// "col_span": 2}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tile {
    /// Row of the top-left cell, from 0.
    pub row: u32,
    /// Column of the top-left cell, from 0.
    pub col: u32,
    /// Rows spanned, at least 1.
    #[serde(default = "one")]
    pub row_span: u32,
    /// Columns spanned, at least 1.
    #[serde(default = "one")]
    pub col_span: u32,
}

impl Tile {
    /// A tile of `row_span` × `col_span` cells with its top-left cell at (`row`, `col`).
    pub const fn new(row: u32, col: u32, row_span: u32, col_span: u32) -> Tile {
        Tile {
            row,
            col,
            row_span,
            col_span,
        }
    }

    /// A tile of one cell.
    pub const fn cell(row: u32, col: u32) -> Tile {
        Tile::new(row, col, 1, 1)
    }

    /// How many cells it covers.
    pub fn area(&self) -> u64 {
        u64::from(self.row_span) * u64::from(self.col_span)
    }

    /// Whether it covers cell (`row`, `col`).
    pub fn covers(&self, row: u32, col: u32) -> bool {
        let (r, c) = (u64::from(row), u64::from(col));
        u64::from(self.row) <= r
            && r < u64::from(self.row) + u64::from(self.row_span)
            && u64::from(self.col) <= c
            && c < u64::from(self.col) + u64::from(self.col_span)
    }
}

/// A custom grid as a client sends it (unchecked): `rows` × `cols` cells and the tiles
/// on them, in the order commands number them (`tile` 0 is the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Rows, 1 to 8.
    pub rows: u32,
    /// Columns, 1 to 8.
    pub cols: u32,
    /// The tiles: at least one, inside the grid, not overlapping (cells may stay
    /// uncovered).
    pub tiles: Vec<Tile>,
}

/// A layout as a client sends it: a named layout by its tile count (`4`), or a custom
/// grid (`{"rows": 2, "cols": 3, "tiles": [...]}`). Checked by [`Layout::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LayoutSpec {
    /// A named layout: 1, 4, 6, 8, 9 or 16 (see [`Layout::named`]).
    Named(u32),
    /// A custom grid.
    Grid(Grid),
}

/// A checked layout: a grid of at most 8 × 8 cells and at least one tile, every tile
/// inside the grid and none overlapping another. Tiles are numbered by their order
/// (commands name `tile` 0, 1, …).
///
/// Serialized as a [`Grid`] (`{"rows", "cols", "tiles"}`) and checked again when
/// deserialized (a stored layout that breaks a rule is refused, never used).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "Grid")]
pub struct Layout {
    /// Rows, 1 to 8.
    rows: u32,
    /// Columns, 1 to 8.
    cols: u32,
    /// The tiles, in command order.
    tiles: Vec<Tile>,
}

impl TryFrom<Grid> for Layout {
    type Error = String;
    fn try_from(grid: Grid) -> Result<Layout, String> {
        Layout::check(&LayoutSpec::Grid(grid), "layout").map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

impl Layout {
    /// A named layout, by its tile count; `None` for other counts.
    ///
    /// - `1`: 1 × 1, one tile;
    /// - `4`: 2 × 2;
    /// - `6`: 3 × 3, one tile spanning 2 × 2 at the top left, then five single tiles
    ///   (the right column top to bottom, then the bottom row left to right);
    /// - `8`: 4 × 4, one tile spanning 3 × 3 at the top left, then seven single tiles
    ///   (the right column, then the bottom row);
    /// - `9`: 3 × 3;
    /// - `16`: 4 × 4.
    ///
    /// Uniform grids number their tiles row by row.
    pub fn named(count: u32) -> Option<Layout> {
        let (rows, cols, tiles) = match count {
            1 => (1, 1, uniform(1)),
            4 => (2, 2, uniform(2)),
            9 => (3, 3, uniform(3)),
            16 => (4, 4, uniform(4)),
            6 => (3, 3, spanning(3)),
            8 => (4, 4, spanning(4)),
            _ => return None,
        };
        Some(Layout { rows, cols, tiles })
    }

    /// The 1 × 1 layout.
    pub fn single() -> Layout {
        Layout {
            rows: 1,
            cols: 1,
            tiles: vec![Tile::cell(0, 0)],
        }
    }

    /// The smallest named layout with at least `count` tiles (1 for 0; 16 for more than
    /// 16: the cap).
    pub fn for_count(count: usize) -> Layout {
        NAMED_LAYOUTS
            .iter()
            .copied()
            .find(|&n| usize::try_from(n).is_ok_and(|n| n >= count))
            .and_then(Layout::named)
            .unwrap_or_else(|| Layout::named(16).unwrap_or_else(Layout::single))
    }

    /// Checks `spec`; every problem is named with `field` as the path prefix (`layout`,
    /// `layout.rows`, `layout.tiles[2]`).
    pub fn check(spec: &LayoutSpec, field: &str) -> Result<Layout, Vec<FieldError>> {
        let grid = match spec {
            LayoutSpec::Named(n) => {
                return Layout::named(*n).ok_or_else(|| {
                    vec![FieldError::new(
                        field,
                        format!(
                            "{n} is not a named layout: one of 1, 4, 6, 8, 9, 16, or a grid \
                             {{\"rows\", \"cols\", \"tiles\"}}"
                        ),
                    )]
                });
            }
            LayoutSpec::Grid(grid) => grid,
        };
        let mut errors = Vec::new();
        for (name, value) in [("rows", grid.rows), ("cols", grid.cols)] {
            if !(1..=MAX_GRID).contains(&value) {
                errors.push(FieldError::new(
                    format!("{field}.{name}"),
                    format!("{value} is out of range: 1 to {MAX_GRID}"),
                ));
            }
        }
        let cells = (MAX_GRID * MAX_GRID) as usize;
        if grid.tiles.is_empty() {
            errors.push(FieldError::new(
                format!("{field}.tiles"),
                "a layout needs at least one tile",
            ));
        } else if grid.tiles.len() > cells {
            errors.push(FieldError::new(
                format!("{field}.tiles"),
                format!("at most {cells} tiles, got {}", grid.tiles.len()),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Which tile covers each cell, row by row.
        let mut owner: Vec<Option<usize>> = vec![None; (grid.rows * grid.cols) as usize];
        for (i, tile) in grid.tiles.iter().enumerate() {
            let at = format!("{field}.tiles[{i}]");
            if tile.row_span == 0 || tile.col_span == 0 {
                errors.push(FieldError::new(at, "row_span and col_span are at least 1"));
                continue;
            }
            let bottom = u64::from(tile.row) + u64::from(tile.row_span);
            let right = u64::from(tile.col) + u64::from(tile.col_span);
            if bottom > u64::from(grid.rows) || right > u64::from(grid.cols) {
                errors.push(FieldError::new(
                    at,
                    format!(
                        "rows {}..{bottom}, columns {}..{right} reach outside the {} × {} grid",
                        tile.row, tile.col, grid.rows, grid.cols
                    ),
                ));
                continue;
            }
            let mut overlapped: Option<usize> = None;
            for r in tile.row..tile.row + tile.row_span {
                for c in tile.col..tile.col + tile.col_span {
                    let cell = &mut owner[(r * grid.cols + c) as usize];
                    match cell {
                        Some(j) => {
                            overlapped.get_or_insert(*j);
                        }
                        None => *cell = Some(i),
                    }
                }
            }
            if let Some(j) = overlapped {
                errors.push(FieldError::new(at, format!("overlaps {field}.tiles[{j}]")));
            }
        }
        if errors.is_empty() {
            Ok(Layout {
                rows: grid.rows,
                cols: grid.cols,
                tiles: grid.tiles.clone(),
            })
        } else {
            Err(errors)
        }
    }

    /// Rows of the grid.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Columns of the grid.
    pub fn cols(&self) -> u32 {
        self.cols
    }

    /// The tiles, in command order.
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }

    /// How many tiles (never 0).
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Always `false`: a layout has at least one tile.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// The tile count of the named layout this is, if it is one.
    pub fn name(&self) -> Option<u32> {
        NAMED_LAYOUTS
            .iter()
            .copied()
            .find(|&n| Layout::named(n).as_ref() == Some(self))
    }

    /// Whether tile `index` is large: the only tile of the layout, or covering at least
    /// half of the grid's cells. `auto` plays large tiles from the main stream, the others
    /// from the sub stream. `false` for an index beyond the layout.
    pub fn is_large(&self, index: usize) -> bool {
        let Some(tile) = self.tiles.get(index) else {
            return false;
        };
        self.tiles.len() == 1 || 2 * tile.area() >= u64::from(self.rows * self.cols)
    }

    /// The layout as a client would send it.
    pub fn to_spec(&self) -> LayoutSpec {
        match self.name() {
            Some(n) => LayoutSpec::Named(n),
            None => LayoutSpec::Grid(Grid {
                rows: self.rows,
                cols: self.cols,
                tiles: self.tiles.clone(),
            }),
        }
    }
}

/// `n` × `n` single tiles, row by row.
fn uniform(n: u32) -> Vec<Tile> {
    (0..n)
        .flat_map(|r| (0..n).map(move |c| Tile::cell(r, c)))
        .collect()
}

/// An `n` × `n` grid with one tile spanning `(n-1)` × `(n-1)` at the top left, then the
/// right column top to bottom, then the bottom row left to right.
fn spanning(n: u32) -> Vec<Tile> {
    let big = n - 1;
    let mut tiles = vec![Tile::new(0, 0, big, big)];
    tiles.extend((0..big).map(|r| Tile::cell(r, big)));
    tiles.extend((0..n).map(|c| Tile::cell(big, c)));
    tiles
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn named_layouts_have_their_shapes() {
        for n in NAMED_LAYOUTS {
            let layout = Layout::named(n).unwrap();
            assert_eq!(layout.len(), n as usize, "{n}");
            assert_eq!(layout.name(), Some(n));
            // Each is a valid grid, and covers every cell.
            let spec = LayoutSpec::Grid(Grid {
                rows: layout.rows(),
                cols: layout.cols(),
                tiles: layout.tiles().to_vec(),
            });
            assert_eq!(Layout::check(&spec, "layout").unwrap(), layout);
            let covered: u64 = layout.tiles().iter().map(Tile::area).sum();
            assert_eq!(covered, u64::from(layout.rows() * layout.cols()), "{n}");
        }
        let six = Layout::named(6).unwrap();
        assert_eq!((six.rows(), six.cols()), (3, 3));
        assert_eq!(six.tiles()[0], Tile::new(0, 0, 2, 2));
        assert_eq!(
            &six.tiles()[1..],
            &[
                Tile::cell(0, 2),
                Tile::cell(1, 2),
                Tile::cell(2, 0),
                Tile::cell(2, 1),
                Tile::cell(2, 2)
            ]
        );
        let eight = Layout::named(8).unwrap();
        assert_eq!((eight.rows(), eight.cols()), (4, 4));
        assert_eq!(eight.tiles()[0], Tile::new(0, 0, 3, 3));
        assert_eq!(Layout::named(4).unwrap().tiles()[1], Tile::cell(0, 1));
        assert_eq!(Layout::named(5), None);
        assert_eq!(Layout::named(0), None);
        assert_eq!(Layout::single(), Layout::named(1).unwrap());
    }

    #[test]
    fn for_count_is_the_smallest_named_layout_that_fits() {
        let expect = [
            (0, 1),
            (1, 1),
            (2, 4),
            (4, 4),
            (5, 6),
            (7, 8),
            (9, 9),
            (10, 16),
            (16, 16),
            (40, 16),
        ];
        for (count, tiles) in expect {
            assert_eq!(Layout::for_count(count).len(), tiles, "{count}");
        }
    }

    #[test]
    fn large_tiles() {
        assert!(Layout::single().is_large(0));
        let four = Layout::named(4).unwrap();
        assert!(!four.is_large(0));
        // 4 of 9 cells is less than half.
        let six = Layout::named(6).unwrap();
        assert!(!six.is_large(0));
        let eight = Layout::named(8).unwrap();
        assert!(eight.is_large(0) && !eight.is_large(1));
        assert!(!eight.is_large(99));
        let halves = Layout::check(
            &LayoutSpec::Grid(Grid {
                rows: 1,
                cols: 2,
                tiles: vec![Tile::cell(0, 0), Tile::cell(0, 1)],
            }),
            "layout",
        )
        .unwrap();
        assert!(halves.is_large(0) && halves.is_large(1));
    }

    #[test]
    fn every_grid_problem_is_named() {
        let bad = LayoutSpec::Grid(Grid {
            rows: 0,
            cols: 9,
            tiles: vec![],
        });
        assert_eq!(
            fields(&Layout::check(&bad, "layout").unwrap_err()),
            ["layout.rows", "layout.cols", "layout.tiles"]
        );
        let bad = LayoutSpec::Grid(Grid {
            rows: 2,
            cols: 2,
            tiles: vec![
                Tile::new(0, 0, 2, 1),
                Tile::new(1, 0, 1, 2),
                Tile::new(1, 1, 2, 1),
                Tile::new(0, 1, 0, 1),
                Tile::new(u32::MAX, 0, u32::MAX, 1),
            ],
        });
        let errors = Layout::check(&bad, "scene.layout").unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "scene.layout.tiles[1]",
                "scene.layout.tiles[2]",
                "scene.layout.tiles[3]",
                "scene.layout.tiles[4]"
            ]
        );
        assert!(errors[0].reason.contains("overlaps scene.layout.tiles[0]"));
        assert!(errors[1].reason.contains("outside"));
        let errors = Layout::check(&LayoutSpec::Named(5), "layout").unwrap_err();
        assert_eq!(fields(&errors), ["layout"]);
    }

    #[test]
    fn serde_forms() {
        let spec: LayoutSpec = serde_json::from_str("6").unwrap();
        assert_eq!(spec, LayoutSpec::Named(6));
        let spec: LayoutSpec = serde_json::from_str(
            r#"{"rows": 1, "cols": 2, "tiles": [{"row": 0, "col": 0}, {"row": 0, "col": 1}]}"#,
        )
        .unwrap();
        let layout = Layout::check(&spec, "layout").unwrap();
        assert_eq!(layout.to_spec(), spec);
        let json = serde_json::to_value(Layout::named(4).unwrap()).unwrap();
        assert_eq!(json["rows"], 2);
        assert_eq!(json["tiles"][3]["col_span"], 1);
        let back: Layout = serde_json::from_value(json).unwrap();
        assert_eq!(back, Layout::named(4).unwrap());
        assert_eq!(back.to_spec(), LayoutSpec::Named(4));
        // A stored layout that breaks a rule does not load.
        let err = serde_json::from_str::<Layout>(
            r#"{"rows": 1, "cols": 1, "tiles": [{"row": 0, "col": 0}, {"row": 0, "col": 0}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("overlaps"), "{err}");
    }

    fn grid() -> impl Strategy<Value = Grid> {
        (1u32..=9, 1u32..=9).prop_flat_map(|(rows, cols)| {
            let tile = (0..rows + 1, 0..cols + 1, 0u32..4, 0u32..4)
                .prop_map(|(r, c, rs, cs)| Tile::new(r, c, rs, cs));
            prop::collection::vec(tile, 0..8).prop_map(move |tiles| Grid { rows, cols, tiles })
        })
    }

    proptest! {
        /// A checked layout is at most 8 × 8, has a tile, and its tiles lie inside the
        /// grid without overlapping; whatever is refused names a field.
        #[test]
        fn checked_layouts_keep_the_rules(grid in grid()) {
            match Layout::check(&LayoutSpec::Grid(grid.clone()), "layout") {
                Ok(layout) => {
                    prop_assert!(layout.rows() <= MAX_GRID && layout.cols() <= MAX_GRID);
                    prop_assert!(!layout.is_empty());
                    for r in 0..layout.rows() {
                        for c in 0..layout.cols() {
                            let n = layout.tiles().iter().filter(|t| t.covers(r, c)).count();
                            prop_assert!(n <= 1);
                        }
                    }
                    let area: u64 = layout.tiles().iter().map(Tile::area).sum();
                    prop_assert!(area <= u64::from(layout.rows() * layout.cols()));
                    prop_assert!(layout.tiles().iter().all(|t| t.row_span >= 1
                        && t.col_span >= 1
                        && t.row + t.row_span <= layout.rows()
                        && t.col + t.col_span <= layout.cols()));
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    prop_assert!(errors.iter().all(|e| e.field.starts_with("layout")));
                }
            }
        }
    }
}
