//! 居民身份证号码 (GB 11643-1999): the 18-character citizen ID number and its check digit.
//!
//! The number is 6 digits of the registering area, 8 of the birth date (YYYYMMDD), 3 of sequence
//! (odd for men, even for women) and one check character computed by ISO 7064 MOD 11-2.

use std::fmt;

/// The weights of ISO 7064 MOD 11-2 for the 17 body digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder 0..=10 of the weighted sum mod 11.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Why an ID number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Not 18 characters long.
    #[error("an ID number has 18 characters, this one has {0}")]
    Length(usize),
    /// A character other than a digit (or X in the last place).
    #[error("character {position} of the ID number is not a digit")]
    NotDigit {
        /// 1-based position of the offending character.
        position: usize,
    },
    /// The birth-date part is not a real date.
    #[error("the birth date {0} in the ID number is not a valid date")]
    BirthDate(String),
    /// The check character does not match the other 17.
    #[error("the check digit is {found}, expected {expected}")]
    CheckDigit {
        /// What the number ends with.
        found: char,
        /// What GB 11643 computes from the first 17 digits.
        expected: char,
    },
}

/// A valid 18-character ID number (uppercase X as check character).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

impl IdNumber {
    /// Validates `s` (surrounding spaces ignored, lowercase x accepted) and returns the number.
    pub fn parse(s: &str) -> Result<Self, IdNumberError> {
        let s = s.trim().to_ascii_uppercase();
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != 18 {
            return Err(IdNumberError::Length(chars.len()));
        }
        for (i, c) in chars.iter().enumerate() {
            let ok = c.is_ascii_digit() || (i == 17 && *c == 'X');
            if !ok {
                return Err(IdNumberError::NotDigit { position: i + 1 });
            }
        }
        let birth = &s[6..14];
        if !valid_birth_date(birth) {
            return Err(IdNumberError::BirthDate(birth.to_string()));
        }
        let expected = check_char(&s[..17]);
        if chars[17] != expected {
            return Err(IdNumberError::CheckDigit { found: chars[17], expected });
        }
        Ok(Self(s))
    }

    /// Builds a number from its 17-digit body by appending the check character.
    /// Returns `None` if the body is not 17 ASCII digits or its birth date is not a date.
    pub fn from_body(body: &str) -> Option<Self> {
        if body.len() != 17 || !body.bytes().all(|b| b.is_ascii_digit()) || !valid_birth_date(&body[6..14]) {
            return None;
        }
        let mut s = body.to_string();
        s.push(check_char(body));
        Some(Self(s))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the area code's first 4 and the last 4 characters hidden,
    /// as shown to roles that do not need the full number.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }

    /// True for an odd sequence number (male, by the standard).
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[16] - b'0') % 2 == 1
    }

    /// The birth date the number carries (characters 7–14).
    pub fn birth_date(&self) -> time::Date {
        let part = |a: usize, b: usize| self.0[a..b].parse::<u16>().unwrap_or(1);
        let month = time::Month::try_from(part(10, 12) as u8).unwrap_or(time::Month::January);
        // Checked when the number was parsed.
        time::Date::from_calendar_date(i32::from(part(6, 10)), month, part(12, 14) as u8).unwrap_or(time::Date::MIN)
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The GB 11643 check character of a 17-digit body. The caller guarantees ASCII digits.
pub fn check_char(body: &str) -> char {
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    CHECK[(sum % 11) as usize]
}

fn valid_birth_date(yyyymmdd: &str) -> bool {
    let Ok(y) = yyyymmdd[..4].parse::<i32>() else { return false };
    let Ok(m) = yyyymmdd[4..6].parse::<u8>() else { return false };
    let Ok(d) = yyyymmdd[6..8].parse::<u8>() else { return false };
    let Ok(month) = time::Month::try_from(m) else { return false };
    (1900..=2100).contains(&y) && time::Date::from_calendar_date(y, month, d).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_standards_example() {
        // The worked example of GB 11643-1999, appendix A.
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert!(!id.is_male());
        assert_eq!(id.birth_date(), time::macros::date!(1949 - 12 - 31));
        assert_eq!(id.masked(), "1101**********002X");
    }

    #[test]
    fn lowercase_x_and_spaces_are_normalised() {
        assert_eq!(IdNumber::parse(" 11010519491231002x ").unwrap().as_str(), "11010519491231002X");
    }

    #[test]
    fn every_wrong_check_character_is_rejected() {
        let body = "44052419800101001";
        let good = check_char(body);
        assert_eq!(good, '3'); // as computed independently in Python
        for c in "0123456789X".chars().filter(|&c| c != good) {
            let err = IdNumber::parse(&format!("{body}{c}")).unwrap_err();
            assert_eq!(err, IdNumberError::CheckDigit { found: c, expected: good });
        }
    }

    #[test]
    fn malformed_numbers_say_why() {
        assert_eq!(IdNumber::parse("1234").unwrap_err(), IdNumberError::Length(4));
        assert_eq!(IdNumber::parse("1101051949123100A2").unwrap_err(), IdNumberError::NotDigit { position: 17 });
        assert_eq!(IdNumber::parse("110105194902300021").unwrap_err(), IdNumberError::BirthDate("19490230".into()));
    }

    #[test]
    fn from_body_round_trips() {
        let id = IdNumber::from_body("33020319900307123").unwrap();
        assert_eq!(IdNumber::parse(id.as_str()).unwrap(), id);
        assert!(id.is_male());
        assert!(IdNumber::from_body("3302031990030712").is_none());
    }
}
