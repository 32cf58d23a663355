//! Tab completion for both REPLs (the line REPL's and the TUI's), from help's one list of
//! the API: after a dot, the machine's methods and properties; elsewhere the functions,
//! globals and the keywords a line starts with; inside a string, the files `m.read` serves.

use super::help::DOCS;

/// What to complete and with what.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// Where the word being completed starts, in the text before the cursor.
    pub start: usize,
    /// The words that could replace it, sorted.
    pub candidates: Vec<String>,
}

impl Completion {
    /// What every candidate starts with (the text a Tab can insert without choosing).
    pub fn common_prefix(&self) -> &str {
        let Some(first) = self.candidates.first() else {
            return "";
        };
        let mut end = first.len();
        for c in &self.candidates[1..] {
            end = first
                .char_indices()
                .zip(c.chars())
                .take_while(|((_, a), b)| a == b)
                .last()
                .map_or(0, |((i, a), _)| i + a.len_utf8())
                .min(end);
        }
        &first[..end]
    }
}

/// Rhai words a REPL line often starts with.
const KEYWORDS: [&str; 12] = [
    "let", "const", "print", "for", "in", "if", "else", "while", "loop", "fn", "try", "catch",
];

/// The machine's methods and properties: every `m.name` help's signatures show.
pub fn machine_members() -> Vec<&'static str> {
    let mut v: Vec<&str> = DOCS
        .iter()
        .flat_map(|d| {
            d.signature
                .match_indices("m.")
                .map(|(i, _)| &d.signature[i + 2..])
        })
        .map(|rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|n| !n.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Functions and globals: help's entries that are not a machine's or a range's.
fn globals() -> Vec<&'static str> {
    let mut v: Vec<&str> = DOCS
        .iter()
        .filter(|d| !d.signature.starts_with("m.") && !d.signature.starts_with("range."))
        .flat_map(|d| d.name.split(' '))
        .chain(KEYWORDS)
        .chain(["m"])
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Where the text before the cursor stands: inside a string (and where it started), in a
/// `//` comment, or in code.
enum Place {
    Code,
    String(usize),
    Comment,
}

fn place(before: &str) -> Place {
    let b = before.as_bytes();
    let mut i = 0;
    let mut open: Option<(u8, usize)> = None;
    while i < b.len() {
        match (open, b[i]) {
            (Some((q, _)), c) if c == q => open = None,
            (Some(_), b'\\') => i += 1,
            (Some(_), _) => {}
            (None, q @ (b'"' | b'`')) => open = Some((q, i + 1)),
            (None, b'/') if b.get(i + 1) == Some(&b'/') => {
                // To the end of its line.
                match before[i..].find('\n') {
                    Some(n) => i += n,
                    None => return Place::Comment,
                }
            }
            _ => {}
        }
        i += 1;
    }
    match open {
        Some((_, at)) => Place::String(at),
        None => Place::Code,
    }
}

/// Complete the word that ends `before` (the text before the cursor). Inside a string the
/// word is a path, completed a component at a time from `list` (what a directory holds, as
/// [`mm::Machine::list_dir`] says). Nothing is offered in a comment, for an empty word
/// outside a dot, or after a dot that does not follow a plain name (`m.hotplug_base.`).
pub fn complete(before: &str, list: &dyn Fn(&str) -> Vec<String>) -> Completion {
    match place(before) {
        Place::Comment => Completion::default(),
        Place::String(at) => {
            let text = &before[at..];
            let cut = text.rfind('/').map_or(0, |i| i + 1);
            let (dir, partial) = text.split_at(cut);
            let candidates = if dir.starts_with('/') {
                list(dir)
                    .into_iter()
                    .filter(|n| n.starts_with(partial))
                    .collect()
            } else {
                Vec::new()
            };
            Completion {
                start: at + cut,
                candidates,
            }
        }
        Place::Code => {
            let start = before
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let prefix = &before[start..];
            let head = &before[..start];
            let names = if let Some(obj) = head.strip_suffix('.') {
                // The name before the dot, and that nothing is before it but an operator,
                // a bracket or a space: `m.`, `(k.`, not `m.hotplug_base.` or `f().`.
                let name_at = obj
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |i| i + 1);
                let name = &obj[name_at..];
                let plain = !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && !obj[..name_at].ends_with('.');
                if plain {
                    machine_members()
                } else {
                    Vec::new()
                }
            } else if prefix.is_empty() || prefix.starts_with(|c: char| c.is_ascii_digit()) {
                Vec::new()
            } else {
                globals()
            };
            Completion {
                start,
                candidates: names
                    .into_iter()
                    .filter(|n| n.starts_with(prefix))
                    .map(str::to_string)
                    .collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn a_dot_completes_the_machine_only() {
        let c = complete("m.add_", &none);
        assert_eq!(c.start, 2);
        assert_eq!(c.candidates, ["add_memory"]);
        let all = complete("m.", &none).candidates;
        assert!(all.contains(&"hotplug_base".to_string()), "{all:?}");
        assert!(all.contains(&"online".to_string()), "{all:?}");
        for global in ["ARCH", "GiB", "boot", "help", "let"] {
            assert!(!all.contains(&global.to_string()), "{global} in {all:?}");
        }
        // Not after a property or a call: they are no machine.
        assert!(complete("m.hotplug_base.", &none).candidates.is_empty());
        assert!(complete("boot().", &none).candidates.is_empty());
        assert_eq!(complete("(k.onl", &none).candidates, ["online"]);
    }

    #[test]
    fn a_word_completes_globals_and_keywords() {
        assert_eq!(complete("let x = Gi", &none).candidates, ["GiB"]);
        assert_eq!(complete("bo", &none).candidates, ["boot"]);
        assert_eq!(complete("le", &none).candidates, ["let"]);
        // Nothing for an empty word, a number, a comment, or after a closed string.
        for text in [
            "",
            "x + ",
            "12",
            "// m.add_",
            "let a = 1; // bo",
            "\"abc\" ",
        ] {
            assert!(complete(text, &none).candidates.is_empty(), "{text:?}");
        }
        // A comment ends with its line.
        assert_eq!(complete("// note\nbo", &none).candidates, ["boot"]);
    }

    #[test]
    fn a_string_completes_a_path_a_component_at_a_time() {
        let list = |dir: &str| -> Vec<String> {
            match dir {
                "/sys/devices/system/memory/" => vec![
                    "auto_online_blocks".into(),
                    "block_size_bytes".into(),
                    "memory0/".into(),
                    "memory32/".into(),
                    "memory33/".into(),
                ],
                "/sys/devices/system/memory/memory32/" => {
                    vec!["state".into(), "valid_zones".into()]
                }
                _ => Vec::new(),
            }
        };
        let c = complete("m.read(\"/sys/devices/system/memory/b", &list);
        assert_eq!(c.start, 35);
        assert_eq!(c.candidates, ["block_size_bytes"]);
        let c = complete("m.read(\"/sys/devices/system/memory/memory3", &list);
        assert_eq!(c.candidates, ["memory32/", "memory33/"]);
        assert_eq!(c.common_prefix(), "memory3");
        let c = complete("m.read(\"/sys/devices/system/memory/memory32/s", &list);
        assert_eq!(c.candidates, ["state"]);
        // After the string closes, no path.
        assert!(complete("m.read(\"/proc/cmdline\"", &list)
            .candidates
            .is_empty());
    }
}
