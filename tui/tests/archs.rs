//! `hotplug-lab archs`: the table of every architecture's parameters (reviewed snapshot).

#[test]
fn archs_table() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("archs", hotplug_lab::archs::table()));
}

#[test]
fn archs_command_prints_the_table() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
        .arg("archs")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, hotplug_lab::archs::table());
    for name in arch::NAMES {
        assert!(text.lines().next().unwrap().contains(name));
    }
}
