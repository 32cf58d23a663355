//! Byte counts as the product prints them, in its two styles only: exact, as the kernel
//! writes sizes on its command line and in its messages (`128M`, `2G`, or hex), and
//! approximate, for people reading a sentence or a total (`768 MiB`, `1.5 GiB`).

/// Format a byte count the way people write it (4K, 2M, 128M, 1G, 64T, or hex).
pub fn human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 6] = [
        (1 << 60, "E"),
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    if bytes == 0 {
        return "0".to_string();
    }
    for (unit, suffix) in UNITS {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{}", bytes / unit, suffix);
        }
    }
    format!("{bytes:#x}")
}

/// A byte count as a person reads it in a sentence or a total: 768 MiB, 56.3 MiB, 4.0 GiB,
/// 512 B.
pub fn approx(bytes: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("PiB", 1 << 50),
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (name, unit) in UNITS {
        if bytes >= unit {
            return if bytes.is_multiple_of(unit) {
                format!("{} {name}", bytes / unit)
            } else {
                format!("{:.1} {name}", bytes as f64 / unit as f64)
            };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_styles() {
        assert_eq!(human(128 << 20), "128M");
        assert_eq!(human(0x1801), "0x1801");
        assert_eq!(approx(768 << 20), "768 MiB");
        assert_eq!(approx((4 << 30) + (32 << 20)), "4.0 GiB");
        assert_eq!(approx(512), "512 B");
    }
}
