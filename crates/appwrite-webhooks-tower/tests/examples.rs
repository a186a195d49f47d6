//! The hyper + tower example, run as a newcomer runs it: as a process.

#[test]
fn tower_hyper_example_accepts_the_genuine_delivery_and_rejects_forgeries() {
    testkit::demo::check_self_test("tower_hyper");
}
