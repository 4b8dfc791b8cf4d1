//! The FortiNDR Cloud (formerly GTI) regions and their hosts: the one table
//! of SPEC §7. `config` starts from it and applies the `GTI_*_URL`
//! overrides; a token's `GTI_REGION` claim can only pick one of these
//! regions, never a URL or a host.

use std::fmt;

closed_set! {
    /// A region of the GTI service, each with its own API and portal hosts;
    /// [`Region::ALL`] lists them in the order of SPEC §7's table.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Region {
        Us,
        Eu,
    }
}

/// Where one region's GTI APIs and portal live: base URLs ending in `/`
/// (the portal's without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionUrls {
    /// Base of `detections` and `events`.
    pub detections: String,
    /// Base of the event search (`query`); `None` switches the search off
    /// (then only detection events are used, and `/health` checks the
    /// detections API).
    pub events: Option<String>,
    /// Base of `entity/tracking/bulk/get/ip`.
    pub entity: String,
    /// Base of the links into the portal.
    pub portal: String,
}

/// The words `GTI_REGION` (variable and claim) accepts, for messages.
pub const ACCEPTED: &str = "us, eu";

impl Region {
    /// The region `name` names, in any case (`us`, `EU`, …).
    pub fn parse(name: &str) -> Option<Region> {
        Region::ALL
            .into_iter()
            .find(|region| region.name().eq_ignore_ascii_case(name))
    }

    /// Its name as `GTI_REGION` spells it: `us`, `eu`.
    pub fn name(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }

    /// The upper-case word of its override variables (`GTI_US_*_URL`).
    pub fn variable_word(self) -> &'static str {
        match self {
            Region::Us => "US",
            Region::Eu => "EU",
        }
    }

    /// The hosts FortiNDR Cloud documents for the region. The EU region
    /// has no event search that we know of, so it is off there.
    pub fn default_urls(self) -> RegionUrls {
        let (detections, events, entity, portal) = match self {
            Region::Us => (
                "https://detections.icebrg.io/v1/",
                Some("https://events.icebrg.io/v2/"),
                "https://entity.icebrg.io/v2/",
                "https://portal.icebrg.io",
            ),
            Region::Eu => (
                "https://detections.eu.fortindr.forticloud.com/v1/",
                None,
                "https://entity.eu.fortindr.forticloud.com/v2/",
                "https://portal-eu.fortindr.forticloud.com",
            ),
        };
        RegionUrls {
            detections: detections.to_owned(),
            events: events.map(str::to_owned),
            entity: entity.to_owned(),
            portal: portal.to_owned(),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per region, looked up by [`Region`] (a GTI client, a table of
/// URLs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerRegion<T>([T; Region::ALL.len()]);

impl<T> PerRegion<T> {
    /// The value `make` gives each region.
    pub fn new(mut make: impl FnMut(Region) -> T) -> PerRegion<T> {
        PerRegion(Region::ALL.map(&mut make))
    }

    pub fn get(&self, region: Region) -> &T {
        &self.0[region.index()]
    }

    pub fn get_mut(&mut self, region: Region) -> &mut T {
        &mut self.0[region.index()]
    }

    /// Each region with its value, in [`Region::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Region, &T)> {
        Region::ALL.into_iter().zip(self.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_nothing_else_does() {
        for region in Region::ALL {
            assert_eq!(Region::parse(region.name()), Some(region));
            assert_eq!(Region::parse(&region.name().to_uppercase()), Some(region));
            assert_eq!(region.to_string(), region.name());
            assert_eq!(Region::ALL[region.index()], region);
        }
        assert_eq!(Region::parse("Eu"), Some(Region::Eu));
        for bad in ["", " us", "us ", "usa", "europe", "e", "apjc"] {
            assert_eq!(Region::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_table_is_the_specs() {
        let us = Region::Us.default_urls();
        assert_eq!(us.detections, "https://detections.icebrg.io/v1/");
        assert_eq!(us.events.as_deref(), Some("https://events.icebrg.io/v2/"));
        assert_eq!(us.entity, "https://entity.icebrg.io/v2/");
        assert_eq!(us.portal, "https://portal.icebrg.io");
        let eu = Region::Eu.default_urls();
        assert_eq!(
            eu.detections,
            "https://detections.eu.fortindr.forticloud.com/v1/"
        );
        assert_eq!(eu.events, None);
        assert_eq!(eu.entity, "https://entity.eu.fortindr.forticloud.com/v2/");
        assert_eq!(eu.portal, "https://portal-eu.fortindr.forticloud.com");
    }

    #[test]
    fn per_region_values_are_kept_apart() {
        let mut table = PerRegion::new(|region| region.name().len());
        *table.get_mut(Region::Eu) = 7;
        assert_eq!(*table.get(Region::Us), 2);
        assert_eq!(*table.get(Region::Eu), 7);
        let regions: Vec<Region> = table.iter().map(|(region, _)| region).collect();
        assert_eq!(regions, Region::ALL);
    }
}
