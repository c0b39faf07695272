//! Byte offsets (the compiler's spans) <-> LSP positions (line, UTF-16 column).

use lsp_types::{Position, Range};

/// The line starts of one text, for conversions both ways.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let column: usize = self.text[start..floor_boundary(self.text, offset)]
            .chars()
            .map(char::len_utf16)
            .sum();
        Position::new(line as u32, column as u32)
    }

    pub fn range(&self, start: u32, end: u32) -> Range {
        Range::new(self.position(start as usize), self.position(end as usize))
    }

    /// The byte offset of a position (clamped to the line's end and the text's end).
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let line_end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let mut units = 0;
        for (i, c) in self.text[start..line_end].char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        line_end
    }
}

fn floor_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_utf16_columns() {
        let text = "a = 1\nb = \"é😀x\"\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        // `b = "` is 5 units, é is 1, 😀 is 2.
        assert_eq!(index.position(x), Position::new(1, 8));
        assert_eq!(index.offset(Position::new(1, 8)), x);
        assert_eq!(index.offset(Position::new(0, 99)), 5);
        assert_eq!(index.offset(Position::new(9, 0)), text.len());
    }
}
