//! `hotplug-lab archs`: the table of every architecture's parameters (reviewed snapshot).

#[test]
fn archs_table() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("archs", hotplug_lab::cli::archs::table()));
}

#[test]
fn archs_command_prints_the_table() {
    // As wide as it likes: the whole table side by side.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
        .arg("archs")
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, hotplug_lab::cli::archs::table());
    for name in arch::Config::names() {
        assert!(text.lines().next().unwrap().contains(name));
    }
}

fn archs(args: &[&str], columns: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
        .arg("archs")
        .args(args)
        .env("COLUMNS", columns)
        .output()
        .unwrap()
}

/// The table fits the terminal: no line wider than $COLUMNS (the notes wrap, the columns
/// go into as many tables as it takes), and every architecture is still in it.
#[test]
fn the_table_fits_the_terminal() {
    for cols in ["100", "80", "60"] {
        let out = archs(&[], cols);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let w: usize = cols.parse().unwrap();
        for l in text.lines() {
            assert!(l.len() <= w, "{cols} columns: {} wide: {l}", l.len());
        }
        for name in arch::Config::names() {
            assert!(
                text.contains(&format!("  {name} ")),
                "{name} at {cols} columns"
            );
        }
    }
}

/// `archs NAME...` picks architectures, by their names or uname -m's; --json gives the same
/// facts as data.
#[test]
fn archs_by_name_and_as_json() {
    let out = archs(&["AArch64", "s390x", "arm64"], "200");
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["arm64", "s390"]
    );
    let out = archs(&["vax"], "200");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aarch64"));
    let out = archs(&["--json"], "200");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 8);
    let ppc = a.iter().find(|x| x["name"] == "powerpc").unwrap();
    assert_eq!(ppc["page_size"], 65536);
    assert_eq!(ppc["section_size"], 16 << 20);
    assert_eq!(ppc["memory_block_size_2g_guest"], 256 << 20);
    let out = archs(&["all", "--json"], "200");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        arch::Config::all().map(|c| c.name).collect::<Vec<_>>()
    );
}
