//! The REPL's input: text of one or more lines, edited on its last line. Every edit at the
//! end of the text costs O(1) (where the last line starts is kept, not searched for), so a
//! megabyte typed or pasted key by key is taken in linear time.

/// The text being typed and the cursor in its last line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    text: String,
    /// Where the last line starts (bytes).
    line_start: usize,
    /// The cursor, in bytes from the start of the last line.
    cursor: usize,
}

impl Input {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The line the cursor is on.
    pub fn last_line(&self) -> &str {
        &self.text[self.line_start..]
    }

    /// The cursor, in bytes from the start of the last line.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The text before the cursor on the last line.
    pub fn before_cursor(&self) -> &str {
        &self.last_line()[..self.cursor]
    }

    /// Type a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.text.insert(self.line_start + self.cursor, c);
        self.cursor += c.len_utf8();
        if c == '\n' {
            self.line_start += self.cursor;
            self.cursor = 0;
        }
    }

    /// Put `s` (which may hold line ends) at the cursor.
    pub fn insert_str(&mut self, s: &str) {
        let at = self.line_start + self.cursor;
        self.text.insert_str(at, s);
        let end = at + s.len();
        match s.rfind('\n') {
            Some(i) => {
                self.line_start = at + i + 1;
                self.cursor = end - self.line_start;
            }
            None => self.cursor += s.len(),
        }
    }

    /// Start a new line at the end (Enter on an unfinished statement).
    pub fn newline(&mut self) {
        self.text.push('\n');
        self.line_start = self.text.len();
        self.cursor = 0;
    }

    /// Delete the character before the cursor; at the start of a line, join it to the one
    /// before.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            let prev = self
                .before_cursor()
                .char_indices()
                .next_back()
                .map_or(0, |(i, _)| i);
            let at = self.line_start;
            self.text.replace_range(at + prev..at + self.cursor, "");
            self.cursor = prev;
        } else if self.line_start > 0 {
            // The line end before this line goes; the cursor stays between the two.
            self.text.remove(self.line_start - 1);
            let start = self.text[..self.line_start - 1]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            self.cursor = self.line_start - 1 - start;
            self.line_start = start;
        }
    }

    pub fn left(&mut self) {
        self.cursor = self
            .before_cursor()
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i);
    }

    pub fn right(&mut self) {
        if let Some(c) = self.last_line()[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len() - self.line_start;
    }

    /// Clear the last line (Ctrl-U).
    pub fn clear_line(&mut self) {
        self.text.truncate(self.line_start);
        self.cursor = 0;
    }

    /// Replace everything (a history entry), the cursor at the end.
    pub fn set(&mut self, text: String) {
        self.line_start = text.rfind('\n').map_or(0, |i| i + 1);
        self.cursor = text.len() - self.line_start;
        self.text = text;
    }

    /// Replace the `n` bytes before the cursor with `with` (a completion).
    pub fn replace_before_cursor(&mut self, n: usize, with: &str) {
        let at = self.line_start + self.cursor;
        let from = at - n.min(self.cursor);
        self.text.replace_range(from..at, with);
        self.cursor = from - self.line_start + with.len();
    }

    pub fn clear(&mut self) {
        *self = Input::default();
    }

    /// The text, leaving the input empty.
    pub fn take(&mut self) -> String {
        std::mem::take(self).text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_on_the_last_line() {
        let mut i = Input::default();
        for c in "let x = {".chars() {
            i.insert(c);
        }
        i.newline();
        i.insert_str("1\n+ 2é");
        assert_eq!(i.as_str(), "let x = {\n1\n+ 2é");
        assert_eq!(i.last_line(), "+ 2é");
        assert_eq!(i.cursor(), "+ 2é".len());
        i.left();
        i.insert('!');
        assert_eq!(i.last_line(), "+ 2!é");
        i.backspace();
        i.backspace();
        assert_eq!(i.last_line(), "+ é");
        i.home();
        i.backspace();
        assert_eq!(i.as_str(), "let x = {\n1+ é");
        assert_eq!((i.last_line(), i.cursor()), ("1+ é", 1));
        i.end();
        i.replace_before_cursor(2, "3");
        assert_eq!(i.last_line(), "1+ 3");
        i.clear_line();
        assert_eq!(i.as_str(), "let x = {\n");
        i.set("a\nbc".into());
        assert_eq!((i.last_line(), i.cursor()), ("bc", 2));
        assert_eq!(i.take(), "a\nbc");
        assert!(i.is_empty());
    }
}
