//! Figures as people read them: bytes in binary units.

/// Bytes as a short human figure: `512 B`, `24.0 KiB`, `1.5 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a figure for the eye, one decimal
    human_bytes_f(bytes as f64)
}

/// The same for a figure that is not whole (a rate).
pub fn human_bytes_f(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(24_576), "24.0 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert_eq!(human_bytes_f(1536.0), "1.5 KiB");
    }
}
