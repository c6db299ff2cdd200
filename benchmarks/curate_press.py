"""Dedupe quality on a press watch with hard negatives and reworded copies.

A synthetic French press watch about the politique de la ville: stories built
from templates (a place, an actor, a figure, a neighbourhood), each covered by
1 to 5 outlets that reword it as outlets do (another title form, word order,
synonyms, added figures and names, kickers such as "VIDÉO." or "Décryptage :",
the outlet's name after a "|"), plus **hard negatives**: distinct stories made
from the same template with another place, actor or figure ("Quartiers 2030 :
Lens signe son contrat" / "Quartiers 2030 : Calais signe son contrat").

Two sets that share no template, place, person or synonym table, with
different seeds:

* ``tuning``: the thresholds of ``newsletter.curate.dedupe`` (MERGE_AT,
  SUGGEST_AT) were chosen on this one;
* ``heldout``: never looked at while tuning; the figures that count.

The generator was written by the team that tuned the dedupe. Two more
sets are not generated: press watches written by hand by engineers who never
saw the dedupe code (stories found in real press pages where possible, each
copy reworded as its outlet would, hard negatives; see their ``.md`` files),
the press items the team did not write:

* ``blind`` (``benchmarks/data/press_blind.jsonl``, 260 items, 207 copy
  pairs): measured once with the thresholds of the generator (merges 1.0
  precise, merges + suggestions 0.203 of the copy pairs: outlets reword far
  more than the generator), then development data: ``SUGGEST_AT`` and the
  reading of compound place names were chosen on it;
* ``blind2`` (``benchmarks/data/press_blind2.jsonl``, 260 items, 205 copy
  pairs): written by another engineer, measured once after those choices
  (2026-12-01): merges 1.0 precise (0.039 of the pairs), suggestions 0.854
  right, merges + suggestions **0.385** of the copy pairs (the previous
  release: 0.137): the target of 0.5 is NOT reached on press items the team
  did not write. Then development data too: figure kinds, common compounds
  and ``SUGGEST_AT`` 0.2 were chosen on ``blind`` and ``blind2``;
* ``blind3`` (``benchmarks/data/press_blind3.jsonl``, 200 items, 177 copy
  pairs, 29 hard-negative groups): written by a third engineer, measured once
  after those choices (2026-12-01): merges 1.0 precise (0.028 of the pairs),
  98 suggestions 0.857 right, merges + suggestions **0.514** of the copy
  pairs (the previous release: 0.169): the targets are met on it, narrowly
  (``blind2``, development data by then, gives 0.478). Burned now; then,
  chosen on ``blind`` and ``blind2``: names conflicting only when of one kind
  (acronyms / other names), every pair compared in a month's batch (up to
  1,000 items) with a wider filter, at most three suggestions per item
  (``blind3``, looked at a second time: 0.655);
* ``blind4`` (215 items, 184 copy pairs, 30 hard-negative groups; a
  Hauts-de-France press watch) and ``blind5`` (199 items, 164 copy pairs, 40
  groups; the rest of France), written by two more engineers, measured once
  after all those choices (2026-12-01): merges 1.0 precise on both;
  suggestions 0.760 and 0.802 right; merges + suggestions **0.712** and
  **0.543** of the copy pairs (0.632 pooled over 348 pairs; the previous
  release: 0.125 and 0.091). Burned now;
* ``blind6`` (200 items, 176 copy pairs, 28 groups; the national press) and
  ``blind7`` (216 items, 175 copy pairs, 35 groups; Auvergne-Rhône-Alpes and
  Grand Est), written by two more engineers, measured once with the same
  code: merges 1.0 precise; suggestions 0.847 and 0.732 right; merges +
  suggestions **0.597** and **0.469** (the previous release: 0.125 and
  0.154). Burned now;
* ``blind8`` (202 items, 178 copy pairs, 42 groups; Île-de-France and the
  West) and ``blind9`` (212 items, 172 copy pairs, 53 groups; Hauts-de-France
  towns, news told at several levels), two more engineers, same code,
  measured once: merges 1.0 precise; suggestions 0.819 and 0.620 right;
  merges + suggestions **0.663** and **0.698** (the previous release: 0.146
  and 0.256).

Over the six sets measured once after every choice (blind4-9, 1,049 copy
pairs): merges + suggestions **0.615** of the copy pairs (0.469 to 0.712 by
set, five of six at 0.5 or more; the previous release 0.09 to 0.26),
suggestions 0.62-0.85 right, merges 1.0 precise.

* ``blind10`` (200 items, 146 copy pairs, 30 groups; Marseille, Montpellier,
  Toulouse, Nîmes, Béziers...) and ``blind11`` (200 items, 179 copy pairs, 26
  groups), measured by the lead with that code: merges 1.0 precise,
  suggestions 0.812 and 0.793 right, merges + suggestions 0.486 and 0.603.
  Development data since: on ``blind10``, 31 of the 75 copy pairs missed were
  name conflicts between a place named at two levels ("Marseille : … à
  Frais-Vallon" / "Frais-Vallon : Adam, 16 ans, abattu…"), which led to the
  names implied by others in the batch (``dedupe._Implied``: a district
  implies its city when most of the batch's items naming it name the city,
  the city named at least as often; such pairs are suggested, never merged).
  With it (2026-12-01): merges still 1.0 precise on every hand-written set;
  merges + suggestions over blind..blind11 pooled (1,963 copy pairs) 0.616 ->
  **0.626** (blind10 0.486 -> 0.541, blind7 0.469 -> 0.497, blind11 0.603 ->
  0.620; blind8 0.663 -> 0.657: its settled pairs and one found before lose
  to others for the three suggestions per item);
  suggestions 0.62-0.85 right; ``tuning`` unchanged, ``heldout``
  suggestions 0.635 -> 0.626. Asking only ``P(city | district) >= 0.5``
  (without "named at least as often") found 0.630 pooled but took a town
  for one of its quarters in a small batch (tests/test_dedupe.py: a Lens
  mostly named with its Grande Résidence); 0.4 lost ``heldout`` suggestion
  precision (0.592).
* ``blind12`` (185 items, 127 copy pairs, 30 groups; the big cities'
  districts as their outlets name them: Lyon, Grenoble, Strasbourg, Rennes,
  Nantes...) and ``blind13`` (197 items, 165 copy pairs, 29 groups;
  Hauts-de-France and Île-de-France, many subjects, news told at several
  levels), two more engineers, measured once by the lead with that code:
  merges 1.0 precise; suggestions 0.658 and 0.852 right; merges +
  suggestions **0.598** and **0.679** (the release at the start of this
  stop: 0.591 and 0.679).
* ``blind14`` (193 items, 147 copy pairs, 36 groups of hard negatives; Grand
  Est, Auvergne-Rhône-Alpes and Bourgogne-Franche-Comté with their outlets)
  and ``blind15`` (201 items, 187 copy pairs, 34 groups; Occitanie,
  Nouvelle-Aquitaine, Provence-Alpes-Côte d'Azur and the overseas
  departments), two more engineers (stop 13, dedupe unchanged since
  blind12), measured once by the lead: merges 1.0 precise; suggestions
  0.735 and 0.776 right; merges + suggestions **0.592** and **0.535**.
  The twelve sets measured once after the choices of their time (blind4 to
  blind15, 2,000 copy pairs): merges + suggestions 0.600 pooled, ten of
  twelve at least 0.5 (blind7 0.469, blind10 0.486), suggestions 0.62-0.85
  right, merges 1.0 precise.

Over the ten sets measured once after every choice of their time (blind4-13,
1,666 copy pairs): merges + suggestions **0.608** of the copy pairs (0.469 to
0.712 by set, eight of ten at 0.5 or more), suggestions 0.62-0.85 right,
merges 1.0 precise.

Prints, per set: pairwise precision and recall of the automatic merges, the
share of suggestions that are right, and the recall of merges + suggestions
(a true copy pair counts as found when both ends are merged together or their
kept items are linked by a suggestion). Targets on held-out: merge precision
>= 0.95, merges + suggestions recall >= 0.5, suggestion precision >= 0.4.

    .venv/bin/python benchmarks/curate_press.py [tuning|heldout|blind|blind2|...|blind15|all]
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from newsletter.curate.dedupe import dedupe  # noqa: E402
from newsletter.models import Item  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
DATA = Path(__file__).resolve().parent / "data"
# hand-written press watches (see the module doc): set name -> file
BLIND = {"blind": DATA / "press_blind.jsonl", "blind2": DATA / "press_blind2.jsonl", "blind3": DATA / "press_blind3.jsonl",
         "blind4": DATA / "press_blind4.jsonl", "blind5": DATA / "press_blind5.jsonl",
         "blind6": DATA / "press_blind6.jsonl", "blind7": DATA / "press_blind7.jsonl",
         "blind8": DATA / "press_blind8.jsonl", "blind9": DATA / "press_blind9.jsonl",
         "blind10": DATA / "press_blind10.jsonl", "blind11": DATA / "press_blind11.jsonl",
         "blind12": DATA / "press_blind12.jsonl", "blind13": DATA / "press_blind13.jsonl",
         "blind14": DATA / "press_blind14.jsonl", "blind15": DATA / "press_blind15.jsonl"}

# Each story template: title forms (a copy picks another form), summary forms, detail sentences.
SETS = {
    "tuning": {
        "seed": 11,
        "places": ["Lens", "Calais", "Roubaix", "Tourcoing", "Amiens", "Beauvais", "Dunkerque", "Valenciennes",
                   "Maubeuge", "Creil", "Denain", "Arras", "Douai", "Liévin", "Hénin-Beaumont", "Saint-Quentin"],
        "quarters": ["Pont-de-Sambre", "les Provinces françaises", "la Bourgogne", "Beau-Marais", "le Nouveau Monde",
                     "Sainte-Marguerite", "l'Alma", "la Briqueterie", "les Épis", "Moulin"],
        "people": ["Sylvie Martin", "Karim Benali", "Jean-Marc Dufour", "Nadia Lefebvre", "Olivier Caron",
                   "Fatima Haddad", "Bruno Lemaire", "Céline Vasseur"],
        "outlets": ["La Voix du Nord", "Nord Littoral", "Le Courrier picard", "L'Avenir de l'Artois",
                    "Nord Éclair", "France 3 Hauts-de-France", "L'Observateur", "Gazette Nord-Pas-de-Calais"],
        "kickers": ["VIDÉO.", "Décryptage :", "INFO LOCALE.", "[Podcast]", "Exclusif :"],
        "synonyms": {"signe": "paraphe", "lance": "organise", "ouvre": "inaugure", "habitants": "riverains",
                     "millions d'euros": "M€", "consultés": "interrogés", "nouveau": "flambant neuf",
                     "jeunes": "adolescents", "projet": "chantier", "quartier": "secteur"},
        "stories": [
            (["Quartiers 2030 : {place} signe son contrat de ville",
              "{place} signe son contrat de ville Quartiers 2030",
              "Contrat de ville : {place} s'engage pour Quartiers 2030"],
             ["La ville de {place} a signé son contrat Quartiers 2030 avec l'État pour la période 2024-2030.",
              "Élus et préfet ont signé à {place} le contrat de ville Quartiers 2030."]),
            (["{place} : le quartier {quarter} retenu par l'ANRU",
              "Renouvellement urbain : l'ANRU retient le quartier {quarter} à {place}",
              "L'ANRU choisit {quarter}, à {place}, pour son programme"],
             ["Le quartier {quarter} de {place} bénéficiera du programme de renouvellement urbain de l'ANRU.",
              "À {place}, {quarter} entre dans le programme de l'ANRU pour la rénovation des logements."]),
            (["Cité éducative de {place} : {n} jeunes accompagnés cette année",
              "{place} : la cité éducative a accompagné {n} jeunes",
              "{n} jeunes suivis par la cité éducative de {place}"],
             ["La cité éducative de {place} dresse son bilan : {n} jeunes accompagnés par les écoles et associations.",
              "Bilan de la cité éducative à {place}, avec {n} jeunes accompagnés depuis la rentrée."]),
            (["La Banque des Territoires investit {n} millions d'euros à {place}",
              "{place} : {n} millions d'euros de la Banque des Territoires",
              "{n} millions d'euros pour {place} grâce à la Banque des Territoires"],
             ["La Banque des Territoires apporte {n} millions d'euros aux quartiers prioritaires de {place}.",
              "Un investissement de {n} millions d'euros de la Banque des Territoires est annoncé pour {place}."]),
            (["À {place}, un nouveau centre social ouvre au quartier {quarter}",
              "{place} : le centre social du quartier {quarter} ouvre ses portes",
              "Quartier {quarter} : {place} ouvre un centre social"],
             ["Le nouveau centre social du quartier {quarter} à {place} accueille les familles dès lundi.",
              "À {place}, les habitants du quartier {quarter} disposent désormais d'un centre social."]),
            (["Emploi : {place} lance un forum dans les quartiers prioritaires",
              "{place} lance son forum de l'emploi pour les quartiers prioritaires",
              "Un forum de l'emploi dans les quartiers de {place}"],
             ["La ville de {place} lance un forum de l'emploi au cœur des quartiers prioritaires.",
              "Recruteurs et demandeurs d'emploi des quartiers de {place} se retrouvent au forum."]),
            (["{place} : les habitants de {quarter} consultés sur le projet de parc",
              "Projet de parc : {place} consulte les habitants de {quarter}",
              "Les habitants de {quarter} donnent leur avis sur le parc, à {place}"],
             ["À {place}, la mairie consulte les habitants de {quarter} sur le futur parc du quartier.",
              "Une consultation est ouverte à {place} auprès des habitants de {quarter} pour le projet de parc."]),
        ],
        "details": ["Le maire {person} salue « une étape importante ».", "{n2} habitants sont concernés.",
                    "Les travaux doivent commencer en {year}.", "Selon {person}, le calendrier sera tenu.",
                    "Une réunion publique est prévue le {day} {month}."],
    },
    "heldout": {
        "seed": 97,
        "places": ["Grenoble", "Échirolles", "Vaulx-en-Velin", "Vénissieux", "Saint-Priest", "Villeurbanne",
                   "Clermont-Ferrand", "Montluçon", "Vierzon", "Bourges", "Chambéry", "Annemasse", "Romans-sur-Isère",
                   "Valence", "Roanne", "Oyonnax"],
        "quarters": ["la Villeneuve", "Mas-du-Taureau", "les Minguettes", "Bel-Air", "la Duchère", "Fontaine-du-Bac",
                     "les Hauts-de-Chambéry", "Fontbarlettes", "le Plateau", "Croix-Rousse Sud"],
        "people": ["Agnès Roux", "Mehdi Saïdi", "Laurent Perrin", "Isabelle Giraud", "Yacine Moulay",
                   "Pauline Chevalier", "Thierry Besson", "Awa Diallo"],
        "outlets": ["Le Dauphiné libéré", "Le Progrès", "La Montagne", "Le Berry républicain", "Lyon Capitale",
                    "France Bleu Isère", "Le Messager", "Place Gre'net"],
        "kickers": ["EN IMAGES.", "Analyse :", "INFO LE PROGRÈS.", "Enquête :", "[Vidéo]"],
        "synonyms": {"adopte": "vote", "budget": "enveloppe", "élèves": "écoliers", "rénovation": "réhabilitation",
                     "ferme": "baisse le rideau", "associations": "structures associatives", "emplois": "postes",
                     "démarre": "débute", "mairie": "municipalité", "familles": "foyers"},
        "stories": [
            (["{place} adopte son budget participatif : {n} projets retenus",
              "Budget participatif : {n} projets retenus à {place}",
              "Les habitants de {place} ont choisi {n} projets du budget participatif"],
             ["Le conseil municipal de {place} a validé {n} projets proposés par les habitants des quartiers.",
              "À {place}, {n} projets du budget participatif seront financés cette année."]),
            (["Rénovation urbaine : le chantier de {quarter} démarre à {place}",
              "{place} : démarrage des travaux de rénovation à {quarter}",
              "À {quarter}, à {place}, la rénovation urbaine commence"],
             ["Les premières démolitions du projet de rénovation de {quarter} commencent à {place}.",
              "À {place}, la rénovation du quartier {quarter} entre dans sa phase de travaux."]),
            (["Dédoublement des classes : {n} élèves concernés à {place}",
              "{place} : {n} élèves dans des classes dédoublées",
              "Classes dédoublées en éducation prioritaire : {place} compte {n} élèves"],
             ["En éducation prioritaire, {n} élèves de {place} sont en classes dédoublées à la rentrée.",
              "Le dédoublement des classes touche {n} élèves dans les écoles de {place}."]),
            (["{place} : la maison France services du quartier {quarter} ferme",
              "Fermeture de la maison France services à {quarter} ({place})",
              "Le quartier {quarter} perd sa maison France services, à {place}"],
             ["Les usagers de {quarter} à {place} devront se rendre en centre-ville après la fermeture.",
              "À {place}, la fermeture de la maison France services de {quarter} inquiète les associations."]),
            (["Adultes-relais : {n} emplois créés à {place}",
              "{place} recrute {n} adultes-relais dans ses quartiers",
              "{n} adultes-relais pour la médiation sociale à {place}"],
             ["L'État finance {n} postes d'adultes-relais pour la médiation sociale dans les quartiers de {place}.",
              "À {place}, {n} adultes-relais vont renforcer la médiation dans les quartiers prioritaires."]),
            (["Été culturel : {place} propose des ateliers à {quarter}",
              "{quarter} accueille l'Été culturel à {place}",
              "Des ateliers d'artistes pour l'Été culturel à {quarter}, à {place}"],
             ["Artistes et familles du quartier {quarter} se retrouvent pour l'Été culturel à {place}.",
              "La mairie de {place} organise des ateliers de l'Été culturel à {quarter} tout l'été."]),
            (["Santé : un centre de santé ouvre à {quarter}, à {place}",
              "{place} : ouverture d'un centre de santé dans le quartier {quarter}",
              "Le quartier {quarter} a enfin son centre de santé ({place})"],
             ["Trois médecins généralistes s'installent au nouveau centre de santé de {quarter} à {place}.",
              "À {place}, le centre de santé de {quarter} accueille ses premiers patients."]),
        ],
        "details": ["L'adjointe {person} évoque « un signal fort ».", "Le coût atteint {n2} euros.",
                    "La livraison est annoncée pour {year}.", "{person} parle d'un projet attendu.",
                    "Une permanence se tiendra le {day} {month}."],
    },
}
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "septembre", "octobre", "novembre"]


def make_press(name: str, stories: int = 90, singles: int = 40) -> tuple[list[Item], list[int]]:
    """Items of the named set and their true story ids."""
    spec = SETS[name]
    rng = random.Random(spec["seed"])
    base = datetime(2025, 11, 20, 8, tzinfo=PARIS)
    items: list[Item] = []
    truth: list[int] = []
    used: set[tuple] = set()
    story_id = 0
    for s in range(stories + singles):
        while True:  # a distinct story: another place, quarter or figure for the same template
            t_index = rng.randrange(len(spec["stories"]))
            titles, summaries = spec["stories"][t_index]
            slots = {"place": rng.choice(spec["places"]), "quarter": rng.choice(spec["quarters"]),
                     "n": str(rng.choice([3, 4, 5, 6, 8, 12, 15, 20, 25, 40, 120, 250, 300, 450]))}
            key = (t_index, slots["place"], slots["quarter"] if "{quarter}" in titles[0] else "",
                   slots["n"] if "{n}" in titles[0] else "")
            if key not in used:
                used.add(key)
                break
        copies = rng.randint(2, 5) if s < stories else 1
        outlets = rng.sample(spec["outlets"], copies)
        forms = list(range(len(titles)))
        rng.shuffle(forms)
        for c in range(copies):
            details = {"person": rng.choice(spec["people"]), "n2": str(rng.randint(150, 9000)),
                       "year": str(rng.choice([2026, 2027, 2028])), "day": str(rng.randint(2, 28)),
                       "month": rng.choice(MONTHS)}
            title = titles[forms[c % len(forms)]].format(**slots)
            summary = rng.choice(summaries).format(**slots)
            if rng.random() < 0.6:
                summary += " " + rng.choice(spec["details"]).format(**slots, **details)
            for word, other in spec["synonyms"].items():
                if c and rng.random() < 0.5:
                    title = title.replace(word, other)
                    summary = summary.replace(word, other)
            if c and rng.random() < 0.35:
                title = f"{rng.choice(spec['kickers'])} {title}"
            if rng.random() < 0.3:
                title = f"{title} | {outlets[c]}"
            if c and rng.random() < 0.2:
                summary = ""  # some feeds give the title only
            items.append(Item(
                kind="press", title=title, summary=summary, outlet=outlets[c], source=f"Veille {outlets[c]}",
                url=f"https://{outlets[c].lower().replace(' ', '-').replace(chr(39), '')}.example/{name}/{s}-{c}",
                published=base - timedelta(hours=rng.randint(0, 200)),
            ))
            truth.append(story_id)
        story_id += 1
    order = list(range(len(items)))
    rng.shuffle(order)
    return [items[i] for i in order], [truth[i] for i in order]


def load_blind(path: Path = BLIND["blind"]) -> tuple[list[Item], list[int]]:
    """The hand-written press watch and its true story ids (``story`` of each line)."""
    items: list[Item] = []
    truth: list[int] = []
    ids: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        items.append(Item(
            kind="press", title=row["title"], summary=row.get("summary") or "", outlet=row["outlet"],
            source=f"Veille {row['outlet']}", url=row["url"], published=datetime.fromisoformat(row["published"]),
        ))
        truth.append(ids.setdefault(row["story"], len(ids)))
    return items, truth


def evaluate(items: list[Item], truth: list[int], **kwargs) -> dict:
    by_url = {item.url: k for k, item in enumerate(items)}
    result = dedupe(items, **kwargs)
    group = list(range(len(items)))
    for kept in result.kept:
        k = by_url[kept.url]
        for url in kept.merged:
            group[by_url[url]] = k
    members: dict[int, list[int]] = {}
    for k, g in enumerate(group):
        members.setdefault(g, []).append(k)
    true_pairs = {(a, b) for a, b in combinations(range(len(items)), 2) if truth[a] == truth[b]}
    merged_pairs = {(a, b) for m in members.values() for a, b in combinations(sorted(m), 2)}
    right_merges = len(merged_pairs & true_pairs)
    suggested_pairs: set[tuple[int, int]] = set()
    right_suggestions = 0
    for s in result.suggestions:
        ga, gb = members[group[by_url[s["url"]]]], members[group[by_url[s["other_url"]]]]
        cross = {(min(a, b), max(a, b)) for a in ga for b in gb}
        suggested_pairs |= cross
        right_suggestions += bool(truth[by_url[s["url"]]] == truth[by_url[s["other_url"]]])
    found = len((merged_pairs | suggested_pairs) & true_pairs)
    return {
        "items": len(items),
        "stories": len(set(truth)),
        "kept": len(result.kept),
        "true_pairs": len(true_pairs),
        "merge_precision": round(right_merges / len(merged_pairs), 3) if merged_pairs else 1.0,
        "merge_recall": round(right_merges / len(true_pairs), 3) if true_pairs else 1.0,
        "suggestions": len(result.suggestions),
        "suggestion_precision": round(right_suggestions / len(result.suggestions), 3) if result.suggestions else 1.0,
        "merge_plus_suggestion_recall": round(found / len(true_pairs), 3) if true_pairs else 1.0,
    }


def main(argv: list[str]) -> int:
    names = ["tuning", "heldout", *BLIND] if not argv or argv[0] == "all" else argv
    for name in names:
        if name not in SETS and name not in BLIND:
            raise SystemExit(f"unknown set {name!r}: one of {', '.join([*SETS, *BLIND])} or all")
        items, truth = load_blind(BLIND[name]) if name in BLIND else make_press(name)
        print(name, evaluate(items, truth))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
