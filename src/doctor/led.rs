//! The status-LED decoder of the landing page: the colour of the burst a device shows while it
//! blinks fast cyan, and how many times it blinks, turned into what went wrong and which fix applies.
//!
//! Pure data, no I/O. Facts: shared/reference/particle-dct.md 8 (the documented patterns) and
//! cloud-api.md 8.5 (which handshake step produces which burst). Colours are named in words and
//! counts given as numbers, so nobody needs to tell colours apart on screen to use it.

/// The colour of the short burst between fast cyan blinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedColour {
    Red,
    Orange,
    Magenta,
    /// Three orange blinks are sometimes seen as yellow (particle-dct.md 8).
    Yellow,
}

impl LedColour {
    pub const ALL: [LedColour; 4] = [
        LedColour::Red,
        LedColour::Orange,
        LedColour::Magenta,
        LedColour::Yellow,
    ];

    /// The value of the colour `<option>`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Orange => "orange",
            Self::Magenta => "magenta",
            Self::Yellow => "yellow",
        }
    }

    /// The option text: the colour in words, with a hint for telling it apart.
    pub fn label(self) -> &'static str {
        match self {
            Self::Red => "Red",
            Self::Orange => "Orange (between red and yellow)",
            Self::Magenta => "Magenta (pink-purple)",
            Self::Yellow => "Yellow",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// Which fix a pattern calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedFix {
    /// The device's keys (device key, or the key the cloud holds for it): this page repairs it.
    RepairKeys,
    /// The server key or address may be wrong, or the network blocks the cloud: the diagnosis
    /// tells which; the page rewrites the server key if that is the cause.
    DiagnoseServerKeyOrNetwork,
    /// Not a key problem: the device cannot reach the internet.
    Network,
    /// Not a documented key pattern.
    Unknown,
}

impl LedFix {
    /// Whether running this page is the right next step.
    pub fn page_applies(self) -> bool {
        matches!(self, Self::RepairKeys | Self::DiagnoseServerKeyOrNetwork)
    }
}

/// What a burst pattern means and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedVerdict {
    pub colour: LedColour,
    pub blinks: u8,
    /// The device's error in plain words.
    pub meaning: &'static str,
    pub fix: LedFix,
    /// The next step, in a sentence or two.
    pub next_step: &'static str,
}

impl LedVerdict {
    /// One line for the page, e.g. "1 orange blink: the device could not decrypt …".
    pub fn summary(&self) -> String {
        let count = if self.blinks >= 4 {
            "4 or more".to_owned()
        } else {
            self.blinks.to_string()
        };
        let plural = if self.blinks == 1 { "" } else { "s" };
        format!(
            "{count} {} blink{plural} during fast cyan: {}",
            self.colour.name(),
            self.meaning
        )
    }
}

const REPAIR: &str = "This page fixes it: connect the device in DFU mode below and follow the \
    steps; it backs up the keys, writes a new device key if needed and sends its public key to \
    the cloud.";

/// Decodes a burst pattern seen during fast cyan blinking.
pub fn decode(colour: LedColour, blinks: u8) -> LedVerdict {
    let blinks = blinks.clamp(1, 4);
    let (meaning, fix, next_step) = match (colour, blinks) {
        (LedColour::Orange, 1) => (
            "decryption error: the device could not decrypt the cloud's answer, so its private \
             key is corrupt, unreadable by the firmware, or not the key the cloud holds",
            LedFix::RepairKeys,
            REPAIR,
        ),
        (LedColour::Red, 1) => (
            "handshake error: the device most likely has the wrong keys (a key the cloud does \
             not know, or a corrupt cloud server key)",
            LedFix::RepairKeys,
            REPAIR,
        ),
        (LedColour::Magenta, 1) => (
            "authentication error: the cloud's signature does not match the server key on the \
             device (a wrong server key, rarely a wrong device key)",
            LedFix::RepairKeys,
            "This page fixes it: connect the device in DFU mode below; the plan rewrites the \
             cloud server key and, if needed, the device key.",
        ),
        (LedColour::Orange, 2) => (
            "the device could not reach the internet",
            LedFix::Network,
            "Not a key problem: check the Wi-Fi network and its password (hold SETUP, MODE on \
             other devices, for 3 seconds to set up Wi-Fi again), then watch the LED again.",
        ),
        (LedColour::Orange | LedColour::Yellow | LedColour::Red, 3) => (
            "the internet works but the cloud is unreachable: a wrong server key or address, or \
             a network that blocks the cloud (outbound TCP port 5683)",
            LedFix::DiagnoseServerKeyOrNetwork,
            "Connect the device in DFU mode below and run the diagnosis: if the server key or \
             address is wrong the repair rewrites it; if they are Particle's, try another \
             network.",
        ),
        _ => (
            "not a documented key or cloud pattern",
            LedFix::Unknown,
            "Count the blinks between two runs of fast cyan once more. If it stays like this, \
             run the diagnosis anyway: it only reads the device and tells what is wrong.",
        ),
    };
    LedVerdict {
        colour,
        blinks,
        meaning,
        fix,
        next_step,
    }
}

/// The most blinks a burst is taken to have. The documented patterns have 1 to 3; larger counts
/// are read as "4 or more". Unverified: no Device OS source line bounds the count a user may see,
/// so 9 only refuses typing slips.
pub const MAX_BLINKS: u8 = 9;

/// What the decoder says about its two inputs as typed: `None` until both are given (no verdict
/// before the user picks), a hint for a count the firmware never shows (0, negative, not a number,
/// more than [`MAX_BLINKS`]).
pub fn read(colour: &str, blinks: &str) -> Option<Result<LedVerdict, &'static str>> {
    let colour = LedColour::from_name(colour)?;
    let text = blinks.trim();
    if text.is_empty() {
        return None;
    }
    Some(match text.parse::<u8>() {
        Ok(n @ 1..=MAX_BLINKS) => Ok(decode(colour, n)),
        _ => Err(
            "Count the short bursts of colour between two runs of fast cyan: a number from 1 to 9.",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(colour: LedColour, blinks: u8, fix: LedFix, meaning_word: &str) {
        let v = decode(colour, blinks);
        assert_eq!(v.fix, fix, "{colour:?} x{blinks}");
        assert!(
            v.meaning.contains(meaning_word),
            "{colour:?} x{blinks}: {}",
            v.meaning
        );
    }

    #[test]
    fn documented_patterns_map_to_their_fix() {
        check(LedColour::Orange, 1, LedFix::RepairKeys, "decrypt");
        check(LedColour::Red, 1, LedFix::RepairKeys, "wrong keys");
        check(LedColour::Magenta, 1, LedFix::RepairKeys, "server key");
        check(LedColour::Orange, 2, LedFix::Network, "internet");
        check(
            LedColour::Orange,
            3,
            LedFix::DiagnoseServerKeyOrNetwork,
            "unreachable",
        );
        // Three orange blinks are sometimes seen as yellow or red.
        check(
            LedColour::Yellow,
            3,
            LedFix::DiagnoseServerKeyOrNetwork,
            "unreachable",
        );
        check(
            LedColour::Red,
            3,
            LedFix::DiagnoseServerKeyOrNetwork,
            "unreachable",
        );
        check(LedColour::Magenta, 2, LedFix::Unknown, "not a documented");
        check(LedColour::Yellow, 1, LedFix::Unknown, "not a documented");
    }

    #[test]
    fn counts_are_clamped_and_summaries_use_words() {
        let v = decode(LedColour::Orange, 9);
        assert_eq!(v.blinks, 4);
        assert!(v.summary().starts_with("4 or more orange blinks"));
        assert!(
            decode(LedColour::Red, 1)
                .summary()
                .starts_with("1 red blink during")
        );
        assert_eq!(decode(LedColour::Red, 0).blinks, 1);
    }

    #[test]
    fn no_verdict_before_both_inputs_and_impossible_counts_are_refused() {
        assert_eq!(read("", "1"), None);
        assert_eq!(read("red", ""), None);
        assert_eq!(read("red", "  "), None);
        for bad in ["0", "-3", "x", "10", "1.5"] {
            assert!(read("red", bad).unwrap().is_err(), "{bad}");
        }
        let v = read("orange", " 2 ").unwrap().unwrap();
        assert_eq!(
            (v.colour, v.blinks, v.fix),
            (LedColour::Orange, 2, LedFix::Network)
        );
    }

    #[test]
    fn colour_names_round_trip() {
        for c in LedColour::ALL {
            assert_eq!(LedColour::from_name(c.name()), Some(c));
        }
        assert_eq!(LedColour::from_name(" Orange "), Some(LedColour::Orange));
        assert_eq!(LedColour::from_name("cyan"), None);
    }

    #[test]
    fn the_page_applies_only_to_key_and_server_patterns() {
        assert!(decode(LedColour::Orange, 1).fix.page_applies());
        assert!(decode(LedColour::Orange, 3).fix.page_applies());
        assert!(!decode(LedColour::Orange, 2).fix.page_applies());
        assert!(!decode(LedColour::Magenta, 3).fix.page_applies());
    }
}
