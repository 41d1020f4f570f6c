"""What an annotator changed, and the project memory of names built from it."""

from __future__ import annotations

from reversener.align import find_all
from reversener.corrections import NOT_AN_ENTITY, Hints, NameMemory, diff, learn_hints, votes
from reversener.types import Sentence, Span

TEXT = "Paris Saint-Germain beat Lyon in Paris, said Brazilian defender Vampeta."


def at(name: str, label: str, text: str = TEXT, nth: int = 0) -> Span:
    start, end = find_all(text, name)[nth]
    return Span(start, end, label)


def test_each_region_is_accepted_retyped_rebounded_deleted_or_added():
    predicted = [at("Lyon", "ORG"), at("Paris", "PER", nth=1), at("Brazilian defender Vampeta", "PER"),
                 at("Saint-Germain", "LOC")]
    annotated = [at("Lyon", "ORG"), at("Paris", "LOC", nth=1), at("Vampeta", "PER"),
                 at("Paris Saint-Germain", "ORG"), at("Brazilian", "MISC")]
    kinds = {(e.kind, TEXT[(e.span or e.was).start:(e.span or e.was).end]) for e in diff(predicted, annotated)}
    assert kinds == {("accepted", "Lyon"), ("retyped", "Paris"), ("rebounded", "Paris Saint-Germain"),
                     ("rebounded", "Brazilian"), ("added", "Vampeta")}


def test_a_predicted_region_the_annotator_removed_is_deleted():
    [edit] = diff([at("Lyon", "ORG")], [])
    assert edit.kind == "deleted" and edit.span is None and edit.was == at("Lyon", "ORG")


def test_one_annotation_votes_for_each_name_once_and_a_deletion_only_where_the_name_is_labeled_nowhere():
    text = "Reuters said Reuters staff met in May."
    edits = diff([Span(0, 7, "ORG"), Span(13, 20, "ORG"), Span(34, 37, "PER")], [Span(0, 7, "ORG")])
    assert votes(text, edits) == {"Reuters": "ORG", "May": NOT_AN_ENTITY}


def test_a_labeled_name_is_labeled_wherever_it_occurs_verbatim_with_the_agreement_as_score():
    memory = NameMemory([{"Paris": "LOC"}, {"Paris": "LOC"}, {"Paris": "LOC"}, {"Paris": "PER"}])
    text = "Paris is not parisian, nor Parisians; PARIS and Paris."
    recalled = memory.apply(text, [Span(0, 5, "PER")])
    assert [(text[s.start:s.end], s.label, s.score) for s in recalled.spans] == [
        ("Paris", "LOC", 0.75), ("Paris", "LOC", 0.75)]
    assert recalled.remembered == {(0, 5, "LOC"), (48, 53, "LOC")}


def test_an_inconsistently_labeled_name_is_withheld():
    memory = NameMemory([{"Paris": "LOC"}, {"Paris": "PER"}])
    assert memory.verdict("Paris") is None
    assert memory.apply("Paris", [Span(0, 5, "PER")]).spans == (Span(0, 5, "PER"),)


def test_a_name_annotators_only_deleted_is_not_predicted_again():
    memory = NameMemory([{"May": NOT_AN_ENTITY}, {"May": NOT_AN_ENTITY}])
    recalled = memory.apply("In May we met.", [Span(3, 6, "PER")])
    assert recalled.spans == () and recalled.dropped == 1


def test_a_remembered_name_inside_a_longer_predicted_name_leaves_it_and_the_longest_name_wins():
    memory = NameMemory([{"Paris": "LOC", "Paris Saint-Germain": "ORG", "Vampeta": "PER"}])
    found = memory.apply(TEXT, [at("Brazilian defender Vampeta", "PER")]).spans
    assert [(TEXT[s.start:s.end], s.label) for s in found] == [
        ("Paris Saint-Germain", "ORG"), ("Paris", "LOC"), ("Brazilian defender Vampeta", "PER")]


def test_a_remembered_name_replaces_predicted_regions_it_overlaps_and_keeps_to_the_projects_types():
    memory = NameMemory([{"Vampeta": "PER", "Lyon": "CITY"}])
    partial = Span(TEXT.index("peta."), len(TEXT), "ORG")  # the model's cut through the name
    found = memory.apply(TEXT, [partial, at("Lyon", "ORG")], types=["PER", "ORG"]).spans
    assert [(TEXT[s.start:s.end], s.label) for s in found] == [("Lyon", "ORG"), ("Vampeta", "PER")]


def _corrected(text: str, predicted: list[tuple[str, str]], annotated: list[tuple[str, str]]):
    return Sentence(text, tuple(at(n, label, text) for n, label in annotated)), [at(n, label, text)
                                                                                 for n, label in predicted]


def test_hints_are_the_names_the_model_got_wrong_most_often_that_annotators_agree_on():
    pairs = [_corrected("Vampeta met Lyon fans in Paris.", [("Paris", "PER"), ("Lyon", "ORG"), ("Vampeta", "PER")],
                        [("Paris", "LOC"), ("Lyon", "ORG"), ("Vampeta", "PER")]),  # Paris retyped
             _corrected("Paris and Oslo in May.", [("May", "PER")], [("Paris", "LOC"), ("Oslo", "LOC")]),
             _corrected("Kyoto wins.", [], [("Kyoto", "LOC")]),
             _corrected("Rome, May.", [("May", "PER")], [("Rome", "ORG")]),  # Rome: once ORG, once LOC
             _corrected("Rome fell.", [], [("Rome", "LOC")])]
    memory = NameMemory(votes(s.text, diff(p, s.spans)) for s, p in pairs)
    hints = learn_hints(pairs, memory, per_type=2)
    # Paris was wrong twice, Kyoto and Oslo once each (alphabetical); accepted names are no hint, nor Rome.
    assert hints == Hints({"LOC": ("Paris", "Kyoto")}, deleted=("May",))
    assert learn_hints(pairs, memory, per_type=5).labeled == {"LOC": ("Paris", "Kyoto", "Oslo")}
    assert hints.only(["PER"]) == Hints({}, ("May",)) and hints.only(["PER"])
    assert not Hints({}) and not learn_hints([], memory, 3)
    assert hints.digest() != learn_hints(pairs, memory, per_type=5).digest()
