#[test]
fn amounts_read_as_a_person_writes_them() {
    use super::amount;
    assert_eq!(amount(-0.0), "0");
    assert_eq!(amount(-0.04), "0");
    assert_eq!(amount(3.96), "4");
    assert_eq!(amount(7.5), "7.5");
    assert_eq!(amount(-2.25), "-2.3");
    assert_eq!(amount(12.0), "12");
}
