//! The FortiNDR Cloud (formerly GTI) regions and their hosts: the one table
//! of SPEC §7. `config` starts from it and applies the `GTI_*_URL`
//! overrides; a token's `GTI_REGION` claim can only pick one of these
//! regions, never a URL or a host.

use std::fmt;
use std::ops::Deref;

use ureq::http::Uri;

closed_set! {
    /// A region of the GTI service, each with its own API and portal hosts;
    /// [`Region::ALL`] lists them in the order of SPEC §7's table.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Region {
        Us,
        Eu,
    }
}

/// Where one region's GTI APIs and portal live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionUrls {
    /// Base of `detections` and `events`.
    pub detections: BaseUrl,
    /// Base of the event search (`query`); `None` switches the search off
    /// (then only detection events are used).
    pub events: Option<BaseUrl>,
    /// Base of `entity/tracking/bulk/get/ip`.
    pub entity: BaseUrl,
    /// Base of the entity v1 look-ups (summary, passive DNS, file); `None`
    /// switches the enrichment off (SPEC §8.4).
    pub entity_v1: Option<BaseUrl>,
    /// Base of the links into the portal.
    pub portal: PortalUrl,
}

/// An absolute `http://` or `https://` URL with a host and no whitespace,
/// checked by `http::Uri`; the reason it is not one otherwise.
fn check_http_url(text: &str) -> Result<(), &'static str> {
    const EXPECTED: &str = "an http:// or https:// URL with a host";
    if text.contains(char::is_whitespace) {
        return Err(EXPECTED);
    }
    let uri: Uri = text.parse().map_err(|_| EXPECTED)?;
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    match uri.host() {
        Some(host) if web && !host.is_empty() => Ok(()),
        _ => Err(EXPECTED),
    }
}

/// The base URL of a GTI API: an http(s) URL ending in `/`, so that
/// joining a relative path never drops its last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// `text` as a base URL (a `/` is added when it has none), or what a
    /// base URL must be.
    pub fn parse(text: &str) -> Result<BaseUrl, &'static str> {
        check_http_url(text)?;
        let mut url = text.to_owned();
        if !url.ends_with('/') {
            url.push('/');
        }
        Ok(BaseUrl(url))
    }
}

/// The portal's URL, without a trailing `/` (links append `/search…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalUrl(String);

impl PortalUrl {
    /// `text` as the portal's URL (trailing `/`s dropped), or what it must be.
    pub fn parse(text: &str) -> Result<PortalUrl, &'static str> {
        check_http_url(text)?;
        Ok(PortalUrl(text.trim_end_matches('/').to_owned()))
    }
}

macro_rules! url_text {
    ($($url:ident),*) => {$(
        impl Deref for $url {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $url {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<&str> for $url {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    )*};
}

url_text!(BaseUrl, PortalUrl);

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
        let (detections, events, entity, entity_v1, portal) = match self {
            Region::Us => (
                "https://detections.icebrg.io/v1/",
                Some("https://events.icebrg.io/v2/"),
                "https://entity.icebrg.io/v2/",
                "https://entity.icebrg.io/v1/",
                "https://portal.icebrg.io",
            ),
            Region::Eu => (
                "https://detections.eu.fortindr.forticloud.com/v1/",
                None,
                "https://entity.eu.fortindr.forticloud.com/v2/",
                "https://entity.eu.fortindr.forticloud.com/v1/",
                "https://portal-eu.fortindr.forticloud.com",
            ),
        };
        // Constants of SPEC §7, well formed by construction (a unit test
        // parses each): they are taken as they are.
        RegionUrls {
            detections: BaseUrl(detections.to_owned()),
            events: events.map(|events| BaseUrl(events.to_owned())),
            entity: BaseUrl(entity.to_owned()),
            entity_v1: Some(BaseUrl(entity_v1.to_owned())),
            portal: PortalUrl(portal.to_owned()),
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
    fn the_table_s_urls_are_what_parsing_would_make_them() {
        for region in Region::ALL {
            let urls = region.default_urls();
            for base in [
                Some(&urls.detections),
                urls.events.as_ref(),
                Some(&urls.entity),
                urls.entity_v1.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                assert_eq!(BaseUrl::parse(base).as_ref(), Ok(base));
            }
            assert_eq!(PortalUrl::parse(&urls.portal), Ok(urls.portal.clone()));
        }
    }

    #[test]
    fn urls_need_an_http_scheme_and_a_host() {
        assert_eq!(BaseUrl::parse("http://h:1/v1").unwrap(), "http://h:1/v1/");
        assert_eq!(PortalUrl::parse("https://p/").unwrap(), "https://p");
        assert_eq!(
            BaseUrl::parse("https://[::1]:8443/").unwrap(),
            "https://[::1]:8443/"
        );
        for bad in [
            "",
            "ftp://h/",
            "https://",
            "https:///x",
            "h/v1/",
            "https://a b/",
            "//h/",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad:?}");
            assert!(PortalUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

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
