//! The one severity/confidence vocabulary: GTI rates each rule's severity
//! and confidence `high`, `moderate` or `low`. This module owns those words,
//! their CTIM words (`High`, `Medium`, `Low`), the tiles' keys and labels,
//! and the order the tiles count them in. The mapping, the verdict rules and
//! the tiles all read levels through [`Level`]; none of them spells a level
//! itself. A leaf: it imports nothing of the relay.

closed_set! {
    /// A level of a rule's severity or confidence, highest first: the order
    /// of [`Level::ALL`] is the order the tiles show and count them in.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Level {
        High,
        Moderate,
        Low,
    }
}

impl Level {
    /// The level GTI's `word` names, spelled exactly as GTI does (`high`,
    /// not `High` nor ` high`): the CTIM mapping's reading, which leaves an
    /// unknown level out rather than guess.
    pub fn parse(word: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.word() == word)
    }

    /// The level `word` names in any ASCII case (`high`, `High`, `HIGH`),
    /// not trimmed: the verdict's and the tiles' reading.
    pub fn parse_any_case(word: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|level| level.word().eq_ignore_ascii_case(word))
    }

    /// GTI's word, which is also the level's key in the per-day tile.
    pub fn word(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Moderate => "moderate",
            Level::Low => "low",
        }
    }

    /// The CTIM word of a sighting's or indicator's `severity` and
    /// `confidence`.
    pub fn ctim(self) -> &'static str {
        match self {
            Level::High => "High",
            Level::Moderate => "Medium",
            Level::Low => "Low",
        }
    }

    /// The tiles' label (GTI's word, capitalised as the portal shows it).
    pub fn label(self) -> &'static str {
        match self {
            Level::High => "High",
            Level::Moderate => "Moderate",
            Level::Low => "Low",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gti_words_parse_exactly_and_nothing_else_does() {
        for level in Level::ALL {
            assert_eq!(Level::parse(level.word()), Some(level));
        }
        assert_eq!(Level::parse("moderate"), Some(Level::Moderate));
        for bad in [
            "", "High", "HIGH", " high", "high ", "medium", "Medium", "none",
        ] {
            assert_eq!(Level::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn any_case_parsing_ignores_case_but_not_spaces() {
        for word in ["high", "High", "HIGH", "hIgH"] {
            assert_eq!(Level::parse_any_case(word), Some(Level::High), "{word:?}");
        }
        assert_eq!(Level::parse_any_case("Moderate"), Some(Level::Moderate));
        assert_eq!(Level::parse_any_case("LOW"), Some(Level::Low));
        for bad in ["", " high", "high ", "medium", "Medium", "hi"] {
            assert_eq!(Level::parse_any_case(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn each_level_has_its_ctim_word_tile_label_and_key() {
        let words: Vec<_> = Level::ALL
            .iter()
            .map(|level| (level.word(), level.ctim(), level.label()))
            .collect();
        assert_eq!(
            words,
            [
                ("high", "High", "High"),
                ("moderate", "Medium", "Moderate"),
                ("low", "Low", "Low"),
            ]
        );
    }

    #[test]
    fn the_tiles_order_is_highest_first_and_indexes_all() {
        assert_eq!(Level::ALL, [Level::High, Level::Moderate, Level::Low]);
        for (index, level) in Level::ALL.into_iter().enumerate() {
            assert_eq!(level.index(), index);
            assert_eq!(Level::ALL[level.index()], level);
        }
    }
}
