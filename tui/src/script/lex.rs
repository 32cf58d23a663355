//! A look at script text before Rhai's parser gets it, as Rhai's lexer reads it: the names
//! it holds (the parser's time grows with their square, and it cannot be stopped once it
//! runs) and whether it leaves a bracket, string or comment open (the REPL then asks for
//! another line without parsing). Strings, characters and comments are skipped, raw
//! strings and the code inside back-quoted `${...}` included.

/// What a look at a text found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scan {
    /// What Rhai's parser and optimiser take time with the square of, outside strings and
    /// comments: names (identifiers and keywords), quoted map keys (`#{"k": 1}`: each is
    /// compared with those before it), blocks (`{`), statements (`;`) and switch cases
    /// (`=>`).
    pub names: usize,
    /// Brackets opened and not closed.
    pub depth: i64,
    /// The text ends inside a string or a block comment.
    pub unterminated: bool,
}

impl Scan {
    /// Whether more lines could complete the text.
    pub fn left_open(&self) -> bool {
        self.unterminated || self.depth > 0
    }
}

/// Read `src` as described in the module's doc.
pub fn scan(src: &str) -> Scan {
    let b = src.as_bytes();
    let mut s = Scan::default();
    // The open back-quoted strings, each with the bracket depth its `${` started at.
    let mut interpolations: Vec<i64> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut nest = 1;
                i += 2;
                while nest > 0 {
                    match (b.get(i), b.get(i + 1)) {
                        (None, _) => {
                            s.unterminated = true;
                            return s;
                        }
                        (Some(b'/'), Some(b'*')) => {
                            nest += 1;
                            i += 1;
                        }
                        (Some(b'*'), Some(b'/')) => {
                            nest -= 1;
                            i += 1;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            b'"' => match skip_quoted(b, i + 1, b'"') {
                Some(end) => {
                    i = end;
                    let next = b[end + 1..].iter().position(|c| !c.is_ascii_whitespace());
                    let at = |k: usize| next.and_then(|n| b.get(end + 1 + n + k)).copied();
                    if at(0) == Some(b':') && at(1) != Some(b':') {
                        s.names += 1;
                    }
                }
                None => {
                    s.unterminated = true;
                    return s;
                }
            },
            b'\'' => {
                // A character: 'x' or '\x' (a lone quote is the parser's to refuse).
                i += if b.get(i + 1) == Some(&b'\\') { 3 } else { 2 };
            }
            b'#' if matches!(b.get(i + 1), Some(b'#' | b'"')) => {
                let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + hashes) != Some(&b'"') {
                    i += hashes;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                match find(b, i + hashes + 1, &close) {
                    Some(at) => i = at + close.len() - 1,
                    None => {
                        s.unterminated = true;
                        return s;
                    }
                }
            }
            b'`' => {
                // The string up to its end or to a `${`, whose code is read as code.
                match back_quoted(b, i + 1) {
                    BackQuote::End(at) => i = at,
                    BackQuote::Code(at) => {
                        interpolations.push(s.depth);
                        s.depth += 1;
                        i = at;
                    }
                    BackQuote::Open => {
                        s.unterminated = true;
                        return s;
                    }
                }
            }
            b'}' if interpolations.last() == Some(&(s.depth - 1)) => {
                // The end of a `${...}`: the back-quoted string goes on.
                s.depth -= 1;
                interpolations.pop();
                match back_quoted(b, i + 1) {
                    BackQuote::End(at) => i = at,
                    BackQuote::Code(at) => {
                        interpolations.push(s.depth);
                        s.depth += 1;
                        i = at;
                    }
                    BackQuote::Open => {
                        s.unterminated = true;
                        return s;
                    }
                }
            }
            b'{' => {
                s.depth += 1;
                s.names += 1;
            }
            b';' => s.names += 1,
            b'=' if b.get(i + 1) == Some(&b'>') => {
                s.names += 1;
                i += 1;
            }
            b'(' | b'[' => s.depth += 1,
            b')' | b']' | b'}' => s.depth -= 1,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                s.names += 1;
                while i + 1 < b.len() && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_') {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() => {
                // A number, with its base prefix, digits, exponent and separators.
                while i + 1 < b.len() && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_') {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    s
}

/// The index of the closing `q` of a string whose text starts at `i` (escapes skipped).
fn skip_quoted(b: &[u8], mut i: usize, q: u8) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            c if c == q => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn find(b: &[u8], from: usize, what: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(what.len())
        .position(|w| w == what)
        .map(|p| p + from)
}

enum BackQuote {
    /// The closing back-quote is here.
    End(usize),
    /// A `${` whose `{` is here.
    Code(usize),
    Open,
}

fn back_quoted(b: &[u8], mut i: usize) -> BackQuote {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'`' => return BackQuote::End(i),
            b'$' if b.get(i + 1) == Some(&b'{') => return BackQuote::Code(i + 1),
            _ => {}
        }
        i += 1;
    }
    BackQuote::Open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_strings_and_comments() {
        // Names, and one for each `;`, `{` (a map literal's too) and `=>`.
        assert_eq!(scan("let a1 = b + 0x1f + 1e5; // c d e").names, 4);
        assert_eq!(scan("print(\"a b c\"); /* x /* y */ z */ w").names, 3);
        assert_eq!(scan("let s = `a ${x + y} b ${ #{k: 1}.k }`;").names, 8);
        assert_eq!(scan("let r = #\"a \" b\"#; c").names, 4);
        assert_eq!(scan("let c = '\\''; d").names, 4);
        assert_eq!(scan("switch x { 1 => 2, _ => 3 } a >= b").names, 8);
        // A quoted map key is a name; a string before `::` or elsewhere is not.
        assert_eq!(scan("#{\"a\": 1, \"b\" : 2, c: \"d\"}").names, 4);
        assert_eq!(scan("f(\"a\", \"b\")").names, 1);
    }

    #[test]
    fn what_is_left_open() {
        for open in ["if true {", "f(1,", "\"abc", "/* x", "`a ${b", "#\"x"] {
            assert!(scan(open).left_open(), "{open}");
        }
        for closed in [
            "if true { 1 }",
            "\"a{\"",
            "// {",
            "`${ {} }`",
            "'{'",
            "let x = 1;",
        ] {
            assert!(!scan(closed).left_open(), "{closed}");
        }
    }
}
