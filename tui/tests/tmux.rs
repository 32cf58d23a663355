//! End to end: the real binary in a real terminal (tmux), driven with send-keys and read
//! with capture-pane: it starts, takes a command in its REPL, redraws the map, quits, and
//! leaves the terminal as it found it. `.ci/run` installs tmux; elsewhere the test is
//! skipped with a note when tmux is missing.

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn capture(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "e2e"])
    }

    /// Wait until the screen shows `what`.
    fn wait_for(&self, what: &str) -> String {
        let t = Instant::now();
        loop {
            let s = self.capture();
            if s.contains(what) {
                return s;
            }
            if t.elapsed() > Duration::from_secs(20) {
                panic!("timed out waiting for {what:?}; the screen:\n{s}");
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Wait until the screen no longer shows `what`.
    fn wait_until_gone(&self, what: &str) {
        let t = Instant::now();
        while self.capture().contains(what) {
            if t.elapsed() > Duration::from_secs(20) {
                panic!("timed out waiting for {what:?} to go");
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn the_binary_runs_in_a_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing on CI: .ci/run should have installed it"
        );
        eprintln!("tmux is not installed: skipping the end-to-end test");
        return;
    }
    let t = Tmux {
        socket: format!("hotplug-lab-e2e-{}", std::process::id()),
    };
    let bin = env!("CARGO_BIN_EXE_hotplug-lab");
    // A shell in the pane, so that what the terminal looks like after quitting can be seen.
    t.cmd(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "120",
        "-y",
        "40",
        "env PS1='e2e$ ' TERM=xterm-256color sh",
    ]);
    t.wait_for("e2e$");
    t.cmd(&[
        "send-keys", "-t", "e2e",
        &format!("{bin} --help >/dev/null; {bin} tui --cmdline memhp_default_state=offline; echo exited=$?"),
        "Enter",
    ]);
    // The map's title shows before the machine has booted ("booting…"): wait for the boot
    // memory blocks themselves (a loaded machine takes a while in a debug build).
    let boot = t.wait_for("0x8000000-0x7fffffff");
    assert!(boot.contains("x86_64 · memory map"), "{boot}");
    assert!(boot.contains("1 section per cell"), "{boot}");
    assert!(!boot.contains("▄▄"), "nothing has changed yet: {boot}");
    // The keyboard starts on the map; the first key the status line names, `?`, opens the
    // help and the next key closes it.
    let status = boot
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(status.contains("q quit  ? help"), "{status}");
    t.cmd(&["send-keys", "-t", "e2e", "?"]);
    t.wait_for("Keys (↑↓ scroll, any other key closes this)");
    t.cmd(&["send-keys", "-t", "e2e", "Escape"]);
    t.wait_until_gone("Keys (↑↓ scroll");
    // `:` enters the REPL; type an input and run it. Tab completes there (it used to
    // leave the REPL, and what was typed next went to the map: the `a` of "hotplug_base"
    // switched the architecture, a `q` quit).
    t.cmd(&["send-keys", "-t", "e2e", ":"]);
    t.wait_for("REPL · Enter runs, Esc leaves");
    t.cmd(&["send-keys", "-t", "e2e", "-l", "m.add_"]);
    t.cmd(&["send-keys", "-t", "e2e", "Tab"]);
    t.wait_for("> m.add_memory");
    t.cmd(&["send-keys", "-t", "e2e", "-l", "(4 * GiB, 1 * GiB)"]);
    t.cmd(&["send-keys", "-t", "e2e", "Enter"]);
    // The map's first row gained the 8 sections at 4 GiB, marked as changed.
    let added = t.wait_for("▄▄▄▄▄▄▄▄");
    let row = added
        .lines()
        .find(|l| l.contains("▄"))
        .expect("a changed row");
    assert!(
        row.trim_start_matches('│').trim_start().starts_with("0 "),
        "the first row holds 4 GiB: {row}"
    );
    assert!(
        added.contains("32-39"),
        "the new blocks are listed: {added}"
    );
    assert!(
        added.contains("x86_64 · memory map"),
        "still x86_64: {added}"
    );
    assert!(
        added.contains("REPL · Enter runs"),
        "still in the REPL: {added}"
    );
    // R asks before it forgets the input; any other key keeps it, R again reboots.
    t.cmd(&["send-keys", "-t", "e2e", "Escape"]);
    t.wait_for("REPL · : or i to type");
    t.cmd(&["send-keys", "-t", "e2e", "R"]);
    t.wait_for("reboot and forget 1 REPL input?");
    t.cmd(&["send-keys", "-t", "e2e", "x"]);
    t.wait_for("kept the 1 REPL inputs");
    assert!(t.capture().contains("32-39"));
    t.cmd(&["send-keys", "-t", "e2e", "R", "R"]);
    t.wait_for("rebooted: the 1 inputs above are forgotten");
    t.wait_until_gone("32-39    1G");
    t.cmd(&["send-keys", "-t", "e2e", ":"]);
    t.wait_for("REPL · Enter runs, Esc leaves");
    // In the REPL `q` is a letter; Esc leaves it and then `q` quits. The shell prompt is
    // back and the UI is gone.
    t.cmd(&["send-keys", "-t", "e2e", "Escape"]);
    t.wait_for("REPL · : or i to type");
    t.cmd(&["send-keys", "-t", "e2e", "q"]);
    let after = t.wait_for("exited=0");
    assert!(
        !after.contains("memory map"),
        "the alternate screen was left:\n{after}"
    );
    assert!(!after.contains("REPL"), "{after}");
    // Ended by a signal, the UI still gives the terminal back as it found it: line mode
    // (icanon), out of the alternate screen.
    t.cmd(&["send-keys", "-t", "e2e", "clear", "Enter"]);
    t.cmd(&[
        "send-keys",
        "-t",
        "e2e",
        &format!(
            "sh -c '(sleep 3; kill -TERM $$) & exec {bin}'; stty -a | grep -o -- '-\\?icanon'"
        ),
        "Enter",
    ]);
    let after = t.wait_for("icanon\n");
    assert!(
        after.lines().any(|l| l.trim() == "icanon"),
        "the terminal was left in raw mode:\n{after}"
    );
    assert!(!after.contains("memory map"), "{after}");
}
