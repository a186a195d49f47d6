//! The actix-web example, run as a newcomer runs it: as a process.

#[test]
fn actix_example_accepts_the_genuine_delivery_and_rejects_forgeries() {
    testkit::demo::check_self_test("actix");
}
