//! What a description says about a scene: the facts a caption states (which sounds, how often,
//! how loud, in which order), recorded by the caption grammar as it draws its words. Replies and
//! answers built from a caption ([`super::dialogue`]) use these facts and nothing else, so the
//! toy chat model never learns to say more than the text it was given.

use super::EventType;

/// How a caption states the number of repetitions of an event. Ordered by how much it says
/// (`Unstated < Vague < Exact`), so the union of several captions keeps the most precise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum CountFact {
    #[default]
    Unstated,
    /// "several times", "repeatedly", "a few times": more than once, no number.
    Vague,
    Exact(u32),
}

/// The loudness a caption states for an event, relative to the scene's other sounds (a single
/// sound: relative to the world's usual levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoudnessFact {
    Loud,
    Quiet,
}

/// What a description says about one of its sounds.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFacts {
    pub ty: EventType,
    pub count: CountFact,
    pub loudness: Option<LoudnessFact>,
}

/// What a description says about its scene. Every caption names every sound of its clip, so
/// `events` holds all of them, in onset order; `ordered` says whether the wording gives that
/// order ("X, then Y") or not ("X and Y", "X while Y").
#[derive(Debug, Clone, PartialEq)]
pub struct SceneFacts {
    pub events: Vec<EventFacts>,
    pub ordered: bool,
}

impl SceneFacts {
    /// Nothing stated yet about these sounds (in onset order).
    pub fn named(types: &[EventType]) -> SceneFacts {
        SceneFacts {
            events: types
                .iter()
                .map(|&ty| EventFacts {
                    ty,
                    count: CountFact::Unstated,
                    loudness: None,
                })
                .collect(),
            ordered: false,
        }
    }

    /// What several true descriptions of one scene say together.
    pub fn union(all: &[SceneFacts]) -> SceneFacts {
        let mut out = all[0].clone();
        for f in &all[1..] {
            out.ordered |= f.ordered;
            for (o, e) in out.events.iter_mut().zip(&f.events) {
                debug_assert_eq!(o.ty, e.ty, "descriptions of one scene name the same sounds");
                o.count = o.count.max(e.count);
                o.loudness = o.loudness.or(e.loudness);
            }
        }
        out
    }

    pub fn get(&self, ty: EventType) -> Option<&EventFacts> {
        self.events.iter().find(|e| e.ty == ty)
    }

    fn get_mut(&mut self, ty: EventType) -> Option<&mut EventFacts> {
        self.events.iter_mut().find(|e| e.ty == ty)
    }

    /// Record a stated count (keeping the most precise statement).
    pub fn state_count(&mut self, ty: EventType, count: CountFact) {
        if let Some(e) = self.get_mut(ty) {
            e.count = e.count.max(count);
        }
    }

    pub fn state_loudness(&mut self, ty: EventType, l: LoudnessFact) {
        if let Some(e) = self.get_mut(ty) {
            e.loudness = Some(l);
        }
    }

    pub fn types(&self) -> Vec<EventType> {
        self.events.iter().map(|e| e.ty).collect()
    }

    /// Whether `a` begins before `b`, when the description says.
    pub fn begins_before(&self, a: EventType, b: EventType) -> Option<bool> {
        if !self.ordered {
            return None;
        }
        let ia = self.events.iter().position(|e| e.ty == a)?;
        let ib = self.events.iter().position(|e| e.ty == b)?;
        (ia != ib).then_some(ia < ib)
    }

    /// Whether `a` is louder than `b`, as far as the description's loudness words tell: one
    /// marked loud and the other not, or one marked quiet and the other not.
    pub fn louder(&self, a: EventType, b: EventType) -> Option<bool> {
        let la = self.get(a)?.loudness;
        let lb = self.get(b)?.loudness;
        use LoudnessFact::*;
        match (la, lb) {
            (Some(Loud), Some(Loud)) | (Some(Quiet), Some(Quiet)) | (None, None) => None,
            (Some(Loud), _) | (_, Some(Quiet)) => Some(true),
            (_, Some(Loud)) | (Some(Quiet), _) => Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_keeps_the_most_precise_statement() {
        let mut a = SceneFacts::named(&[EventType::DogBark, EventType::Siren]);
        let mut b = a.clone();
        a.state_count(EventType::DogBark, CountFact::Vague);
        b.state_count(EventType::DogBark, CountFact::Exact(3));
        b.state_count(EventType::DogBark, CountFact::Vague);
        b.state_loudness(EventType::Siren, LoudnessFact::Quiet);
        b.ordered = true;
        let u = SceneFacts::union(&[a.clone(), b]);
        assert_eq!(
            u.get(EventType::DogBark).unwrap().count,
            CountFact::Exact(3)
        );
        assert_eq!(
            u.get(EventType::Siren).unwrap().loudness,
            Some(LoudnessFact::Quiet)
        );
        assert_eq!(
            u.begins_before(EventType::DogBark, EventType::Siren),
            Some(true)
        );
        assert_eq!(a.begins_before(EventType::DogBark, EventType::Siren), None);
        assert_eq!(u.louder(EventType::DogBark, EventType::Siren), Some(true));
        assert_eq!(u.louder(EventType::Siren, EventType::DogBark), Some(false));
        assert_eq!(a.louder(EventType::Siren, EventType::DogBark), None);
    }
}
