//! Just enough unsigned big-integer arithmetic for sequence numbers: AWS lays its numbers out
//! in hexadecimal and prints them in decimal, and accepts up to 129 decimal digits (the
//! `0|([1-9]\d{0,128})` pattern of StartingSequenceNumber), which is under 448 bits.

/// Limbs, least significant first.
const LIMBS: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Wide([u64; LIMBS]);

const TEN_POW_19: u64 = 10_000_000_000_000_000_000;

impl Wide {
    /// None unless `s` is 1 to 129 ASCII digits.
    pub(crate) fn from_decimal(s: &str) -> Option<Wide> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 129 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut w = Wide::default();
        for chunk in b.chunks(19) {
            let mut scale = 1u64;
            let mut value = 0u64;
            for &d in chunk {
                scale *= 10;
                value = value * 10 + u64::from(d - b'0');
            }
            w.mul_add(scale, value);
        }
        Some(w)
    }

    /// Test numbers are easiest to write in the hex AWS's layout is defined in.
    #[cfg(test)]
    pub(crate) fn from_hex(h: &str) -> Wide {
        let mut w = Wide::default();
        for c in h.chars() {
            w.mul_add(16, u64::from(c.to_digit(16).expect("a hex digit")));
        }
        w
    }

    #[cfg(test)]
    pub(crate) fn to_decimal(self) -> String {
        let mut s = String::new();
        self.push_decimal(&mut s);
        s
    }

    /// `self * m + a`; 129 digits never overflow the limbs.
    fn mul_add(&mut self, m: u64, a: u64) {
        let mut carry = u128::from(a);
        for limb in &mut self.0 {
            let v = u128::from(*limb) * u128::from(m) + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
    }

    /// Number of significant bits (0 for zero).
    pub(crate) fn bits(&self) -> u32 {
        for i in (0..LIMBS).rev() {
            if self.0[i] != 0 {
                return 64 * i as u32 + (64 - self.0[i].leading_zeros());
            }
        }
        0
    }

    pub(crate) fn bit(&self, i: u32) -> bool {
        self.0[(i / 64) as usize] >> (i % 64) & 1 == 1
    }

    pub(crate) fn set_bit(&mut self, i: u32) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }

    /// ORs the low `width` bits of `v` in at bit `shift` (fields never overlap).
    pub(crate) fn put(&mut self, shift: u32, width: u32, v: u64) {
        let v = if width == 64 {
            v
        } else {
            v & ((1 << width) - 1)
        };
        let (limb, off) = ((shift / 64) as usize, shift % 64);
        self.0[limb] |= v << off;
        if off != 0 && off + width > 64 {
            self.0[limb + 1] |= v >> (64 - off);
        }
    }

    /// Lower-case hexadecimal without leading zeros ("0" for zero), as AWS's parser sees it.
    pub(crate) fn to_hex(self) -> String {
        let top = (0..LIMBS).rev().find(|&i| self.0[i] != 0);
        let Some(top) = top else {
            return "0".to_owned();
        };
        let mut s = format!("{:x}", self.0[top]);
        for i in (0..top).rev() {
            s.push_str(&format!("{:016x}", self.0[i]));
        }
        s
    }

    /// Decimal digits, 19 at a time, dividing only the limbs still in use.
    pub(crate) fn push_decimal(mut self, out: &mut String) {
        let mut chunks = [0u64; 8];
        let mut n = 0;
        let mut top = LIMBS;
        loop {
            while top > 0 && self.0[top - 1] == 0 {
                top -= 1;
            }
            let mut rem = 0u128;
            for limb in self.0[..top].iter_mut().rev() {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / u128::from(TEN_POW_19)) as u64;
                rem = cur % u128::from(TEN_POW_19);
            }
            chunks[n] = rem as u64;
            n += 1;
            if self.0[..top].iter().all(|&l| l == 0) {
                break;
            }
        }
        super::push_digits(out, chunks[n - 1], 0);
        for &c in chunks[..n - 1].iter().rev() {
            super::push_digits(out, c, 19);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(w: Wide) -> String {
        let mut s = String::new();
        w.push_decimal(&mut s);
        s
    }

    #[test]
    fn decimal_round_trips_and_hex_matches() {
        for s in [
            "0",
            "5",
            "18446744073709551616",
            "49590338271490256608559692538361571095921575989136588898",
            &"9".repeat(129),
        ] {
            let w = Wide::from_decimal(s).unwrap();
            assert_eq!(dec(w), s);
        }
        let w =
            Wide::from_decimal("49590338271490256608559692538361571095921575989136588898").unwrap();
        assert_eq!(
            w.to_hex(),
            "205bf4e5c260000000067648a170005c181eea000000062"
        );
        assert_eq!(w.bits(), 186);
        assert_eq!(
            Wide::from_decimal("18446744073709551616").unwrap().to_hex(),
            "10000000000000000"
        );
    }

    #[test]
    fn rejects_non_digits_and_overlong() {
        assert!(Wide::from_decimal("").is_none());
        assert!(Wide::from_decimal("12a").is_none());
        assert!(Wide::from_decimal(&"1".repeat(130)).is_none());
    }

    #[test]
    fn puts_fields_across_limbs() {
        let mut w = Wide::default();
        w.put(60, 8, 0xab);
        w.set_bit(130);
        assert_eq!(
            w.to_hex(),
            format!("4{}ab{}", "0".repeat(15), "0".repeat(15))
        );
        assert!(w.bit(130) && !w.bit(129));
    }
}
