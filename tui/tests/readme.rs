//! README.md's examples are tests: every fenced `rhai` block runs as it stands (on x86_64,
//! with no flags), and every `print(...)` with a `// comment` prints what the comment starts
//! with (the rest of the comment explains it). Every script the README's commands name
//! exists.

use hotplug_lab::script::run::{run_target, RunOptions};
use hotplug_lab::script::BootConfig;

hotplug_lab::install_heap_meter!();
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap()
}

/// The fenced blocks of one language, with the line each starts on.
fn blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, l) in text.lines().enumerate() {
        match &mut cur {
            None if l.trim() == format!("```{lang}") => cur = Some((i + 2, String::new())),
            Some(_) if l.trim() == "```" => out.extend(cur.take()),
            Some((_, b)) => {
                b.push_str(l);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

/// The comment of a line (outside strings), if any.
fn comment(line: &str) -> Option<&str> {
    let mut in_str = None;
    let b = line.as_bytes();
    for i in 0..b.len() {
        match (in_str, b[i]) {
            (None, b'"' | b'`') => in_str = Some(b[i]),
            (Some(q), c) if c == q => in_str = None,
            (None, b'/') if b.get(i + 1) == Some(&b'/') => return Some(line[i + 2..].trim()),
            _ => {}
        }
    }
    None
}

/// Whether `printed` is what `comment` starts with, as a whole word.
fn matches(printed: &str, comment: &str) -> bool {
    comment.starts_with(printed)
        && comment[printed.len()..]
            .chars()
            .next()
            .is_none_or(|c| matches!(c, ' ' | ':' | ',' | ';' | '('))
}

#[test]
fn every_rhai_block_runs_and_prints_what_it_says() {
    let text = readme();
    let list = blocks(&text, "rhai");
    assert!(list.len() >= 4, "README has {} rhai blocks", list.len());
    for (at, src) in list {
        // Mark the output of every commented print.
        let mut marked = String::new();
        let mut expect = Vec::new();
        for line in src.lines() {
            if let Some(c) = comment(line).filter(|_| line.trim_start().starts_with("print(")) {
                marked.push_str(&format!("print(\"\\x01{}\"); ", expect.len()));
                expect.push((line.to_string(), c.to_string()));
            }
            marked.push_str(line);
            marked.push('\n');
        }
        let run = run_target(&marked, &RunOptions::new(BootConfig::default()));
        if let Err(e) = &run.result {
            panic!(
                "README.md block at line {at} throws: {}\n{src}",
                run.error_line("README.md").unwrap_or(e.message.clone())
            );
        }
        for (i, (line, c)) in expect.iter().enumerate() {
            let mark = format!("\u{1}{i}");
            let printed = run
                .output
                .iter()
                .skip_while(|l| **l != mark)
                .nth(1)
                .cloned()
                .unwrap_or_default();
            assert!(
                matches(&printed, c),
                "README.md block at line {at}: `{}` prints {printed:?}, but its comment says {c:?}",
                line.trim()
            );
        }
    }
}

#[test]
fn the_scripts_readme_names_exist() {
    let text = readme();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut n = 0;
    for word in text.split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')') {
        if word.ends_with(".rhai") && !word.contains('*') {
            assert!(
                root.join(word).exists(),
                "README.md names {word}, which does not exist"
            );
            n += 1;
        }
    }
    assert!(n > 0);
}

#[test]
fn the_capture_command_in_the_readme_is_the_one_host_prints() {
    // README's "Your machine" gives the command as a block of its own.
    let cmd = hotplug_lab::host::capture_command();
    let text = readme();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .windows(3)
            .any(|w| w[0] == "```" && w[1] == cmd && w[2] == "```"),
        "README.md must show, in a fenced block of its own:\n{cmd}"
    );
}

/// The README's Rust example is mm's crate documentation, which `cargo test` runs as a
/// doctest: the two must say the same.
#[test]
fn the_rust_example_is_the_doctest() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../mm/src/lib.rs"))
            .unwrap();
    let doc: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    let rust = blocks(&readme(), "rust");
    assert!(!rust.is_empty());
    for (line, b) in rust {
        assert!(
            doc.contains(&format!("```\n{b}```")),
            "README.md:{line}: the Rust example differs from mm/src/lib.rs's:\n{b}"
        );
    }
}
