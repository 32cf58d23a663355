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

/// Complete the word that ends `before` (the text before the cursor); `paths` are the
/// files the machine serves, for a word inside a string.
pub fn complete(before: &str, paths: &[String]) -> Completion {
    if before.matches('"').count() % 2 == 1 {
        let start = before.rfind('"').map_or(0, |i| i + 1);
        let prefix = &before[start..];
        let mut candidates: Vec<String> = paths
            .iter()
            .filter(|p| p.starts_with(prefix))
            .cloned()
            .collect();
        candidates.sort_unstable();
        return Completion { start, candidates };
    }
    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let prefix = &before[start..];
    let after_dot = before[..start].ends_with('.');
    let names = if after_dot {
        machine_members()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dot_completes_the_machine_only() {
        let c = complete("m.add_", &[]);
        assert_eq!(c.start, 2);
        assert_eq!(c.candidates, ["add_memory"]);
        let all = complete("m.", &[]).candidates;
        assert!(all.contains(&"hotplug_base".to_string()), "{all:?}");
        assert!(all.contains(&"online".to_string()), "{all:?}");
        for global in ["ARCH", "GiB", "boot", "help", "let"] {
            assert!(!all.contains(&global.to_string()), "{global} in {all:?}");
        }
    }

    #[test]
    fn a_word_completes_globals_and_keywords() {
        assert_eq!(complete("let x = Gi", &[]).candidates, ["GiB"]);
        assert_eq!(complete("bo", &[]).candidates, ["boot"]);
        assert_eq!(complete("le", &[]).candidates, ["let"]);
        assert!(!complete("", &[])
            .candidates
            .contains(&"add_memory".to_string()));
    }

    #[test]
    fn a_string_completes_paths() {
        let paths = vec![
            "/sys/devices/system/memory/block_size_bytes".to_string(),
            "/sys/devices/system/memory/auto_online_blocks".to_string(),
            "/proc/meminfo".to_string(),
        ];
        let c = complete("m.read(\"/sys/devices/system/memory/b", &paths);
        assert_eq!(c.start, 8);
        assert_eq!(
            c.candidates,
            ["/sys/devices/system/memory/block_size_bytes"]
        );
        let c = complete("m.read(\"/sys/", &paths);
        assert_eq!(c.common_prefix(), "/sys/devices/system/memory/");
    }
}
