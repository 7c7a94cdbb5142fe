"""A seeded generator of French customer records with known true duplicates.

    from bench.french import generate
    records, pairs = generate(100_000, seed=1)   # 100,000 records, the true duplicate pairs

    .venv/bin/python bench/french.py 20 --seed 1      # print 20 records, as JSON Lines
    .venv/bin/python bench/french.py 100000 --stats   # counts and the time it takes

Each *person* (the ground truth) lives in a *household* and yields one or more *records*,
written the way the touchpoints of a French company write them: a web account, a loyalty
card in a shop, a call to the call centre, a legacy file import, a newsletter sign-up (the
email alone), an SMS opt-in (the phone alone). A record is a plain ``dict``:

- ``id`` (``r0000001``, in the order the records are given: a person's later records come
  later, among other people's), ``source`` (the touchpoint);
- ``display_name`` as written, always; ``given_name`` and ``family_name`` when the
  touchpoint captured them apart (``None`` when it kept one name field: ``DUPONT Marie``,
  ``Dupont, M.``, ``marie dupont``, ``Mme Marie DUPONT``);
- ``birth_date`` (ISO ``YYYY-MM-DD`` text or ``None``), on some records only, now and then
  with day and month swapped or one digit wrong;
- ``emails`` and ``phones`` (lists of text as typed, usually zero or one of each);
- ``address_lines`` (a list), ``postcode`` and ``city``, or ``None`` for all three.

What makes it realistic, and hard:

- **names** are drawn from weighted lists (Zipf-like: Martin, Bernard, Dubois, Thomas...
  are frequent, then a long tail), French, Breton, North and West African, Portuguese,
  Spanish, Italian, Vietnamese, Turkish, with given names by sex and generation (Jean and
  Monique born in 1950, Nathalie and Christophe in 1970, Léa and Mehdi in 1995) and
  compound ones (Jean-Pierre, Marie-Claire). Different people of one common name live in
  one town (namesakes), more of them as the base grows;
- **spellings**: ``DUPONT Marie`` / ``Dupont, M.`` / ``marie dupont`` / an initial /
  accents dropped / given and family names swapped / one typo (AZERTY neighbours) /
  ``Jean-Pierre`` as ``Jean Pierre`` or ``Jean`` / ``Le Goff`` as ``LEGOFF`` / a married
  woman under her maiden name;
- **phones**: French mobiles (06, 07) and landlines (01-05 by region, 09 boxes) written
  eight ways (``06 12 34 56 78``, ``0612345678``, ``+33 6 12 34 56 78``, ``+33612345678``,
  ``0033612345678``, ``06.12.34.56.78``, ``06-12-34-56-78``, ``(0)6 12 34 56 78``), a few
  with a wrong or missing digit; a household's landline is shared by its members; some
  people changed mobile;
- **emails**: odd case, surrounding spaces, typos (``gmial.com``, ``hotmial.fr``), a few
  that are not addresses at all (``marie.dupont@gmail,com``), a person's second address,
  and family mailboxes shared by a couple (``famille.dupont@orange.fr``);
- **one-channel records**: an email alone, a phone alone, no address;
- **addresses**: French postcodes and communes (Paris, Marseille and Lyon by
  arrondissement), street lines with their abbreviations (``av.``, ``bd``), ``bis``,
  a building line, ``ST ETIENNE`` / ``Saint-Étienne``, ``PARIS 15``; neighbours in one
  building; people who **moved** (a record at the old address); **households** (one
  address, one family name, different given names: different people; now and then a son
  named after his father);
- about 15% of persons have duplicates (2 records 11%, 3: 3%, 4: 1%).

The frequencies are stylised, not census figures: Martin is 1.2% of the French-origin
people (0.4% in France), two people share a family name about 5 times as often as in
France (the lists are short), and the base lives in 140 communes weighted by population.
100,000 records (seed 1) are 83,000 persons in 57,000 households; 15% of the persons
have duplicates (21,600 true pairs); 94 pairs of different persons have the same given
name, family name and postcode as typed. 30% of the records carry a birth date, 44% an
email, 59% a phone, 58% an address; 34% are one-channel records.

The generator is deterministic for a seed and streams (:func:`iter_records`): 100,000
records in about 3 seconds. :func:`generate` returns ``(records, pairs)``, the
pairs being every pair of record ids of one person (3 records: 3 pairs).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import functools
import itertools
import json
import random
import re
import sys
import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

#: bumped whenever the records a seed gives change (cached databases are keyed by it)
GENERATOR_VERSION = 2

Record = dict[str, Any]


# -- weighted choices -----------------------------------------------------------------
class Weighted:
    """Items with weights, drawn with ``pick(rng)`` (a bisect over cumulative weights)."""

    __slots__ = ("cumulative", "items", "total")

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    @classmethod
    def zipf(cls, items: Sequence[str], exponent: float = 1.0, offset: float = 1.0) -> Weighted:
        """Items in rank order, the i-th weighing ``1 / (i + offset) ** exponent``."""
        return cls(items, [1.0 / (i + offset) ** exponent for i in range(len(items))])

    def pick(self, rng: random.Random) -> str:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]

    def share(self, item: str) -> float:
        i = self.items.index(item)
        return (self.cumulative[i] - (self.cumulative[i - 1] if i else 0.0)) / self.total

    def collision(self) -> float:
        """The chance that two draws give the same item (the sum of squared shares)."""
        previous, total = 0.0, 0.0
        for c in self.cumulative:
            total += ((c - previous) / self.total) ** 2
            previous = c
        return total


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


# -- family names, by origin, most common first ---------------------------------------
FAMILY_FR = _words("""
Martin, Bernard, Thomas, Petit, Robert, Richard, Durand, Dubois, Moreau, Laurent, Simon,
Michel, Lefèvre, Leroy, Roux, David, Bertrand, Morel, Fournier, Girard, Bonnet, Dupont,
Lambert, Fontaine, Rousseau, Vincent, Muller, Lefebvre, Faure, André, Mercier, Blanc,
Guérin, Boyer, Garnier, Chevalier, François, Legrand, Gauthier, Perrin, Robin, Clément,
Morin, Nicolas, Henry, Roussel, Mathieu, Gautier, Masson, Marchand, Duval, Denis, Dumont,
Marie, Lemaire, Noël, Meyer, Dufour, Meunier, Brun, Blanchard, Giraud, Joly, Rivière,
Lucas, Brunet, Gaillard, Barbier, Arnaud, Gérard, Roche, Renard, Schmitt, Roy, Leroux,
Colin, Vidal, Caron, Picard, Roger, Fabre, Aubert, Lemoine, Renaud, Dumas, Lacroix,
Olivier, Philippe, Bourgeois, Pierre, Benoît, Rey, Leclerc, Payet, Rolland, Leclercq,
Guillaume, Lecomte, Jean, Dupuy, Guillot, Hubert, Berger, Carpentier, Dupuis, Moulin,
Louis, Deschamps, Huet, Vasseur, Boucher, Fleury, Royer, Klein, Jacquet, Adam, Paris,
Poirier, Marty, Aubry, Guyot, Carré, Charles, Renault, Charpentier, Ménard, Maillard,
Baron, Bertin, Bailly, Hervé, Schneider, Collet, Léger, Bouvier, Julien, Prévost, Millet,
Perrot, Daniel, Cousin, Germain, Breton, Besson, Langlois, Rémy, Pelletier, Lévêque,
Perrier, Leblanc, Barré, Lebrun, Marchal, Weber, Mallet, Hamon, Boulanger, Jacob, Monnier,
Michaud, Guichard, Gillet, Étienne, Grondin, Poulain, Tessier, Chevallier, Collin, Chauvin,
Bouchet, Gay, Lemaître, Bénard, Maréchal, Humbert, Reynaud, Antoine, Hoarau, Perret,
Barthélemy, Cordier, Pichon, Lejeune, Gilbert, Lamy, Delaunay, Pasquier, Carlier, Laporte,
Gomez, Lebon, Devaux, Vallée, Texier, Hoareau, Boulay, Buisson, Chartier, Jourdan, Hardy,
Delmas, Raynaud, Bertrand-Martin, Lacoste, Blondel, Tanguy, Lemarchand, Sauvage, Boutin,
Delattre, Descamps, Verdier, Rocher, Mary, Besnard, Bousquet, Gosselin, Ollivier, Bigot,
Chauvet, Pons, Lagarde, Pineau, Legros, Gros, Marion, Rigaud, Camus, Bouvet, Delorme,
Fabre, Courtois, Maury, Duhamel, Hamel, Bataille, Jacques, Dubreuil, Leconte, Mathieu,
""")
FAMILY_BRETON = _words("""
Le Goff, Le Gall, Le Roux, Guillou, Le Bihan, Le Floch, Kerbrat, Le Corre, Le Meur, Morvan,
Le Berre, Le Guen, Quéméner, Caradec, Le Borgne, Le Bras, Kerhervé, Le Moal, Riou, Cadiou,
Le Gac, Kervella, Le Pape, Le Cam, Le Du, Le Hir, Jézéquel, Abgrall, Kerdraon, Le Coz,
""")
FAMILY_MAGHREB = _words("""
Benali, Haddad, Mansouri, Cherif, Bouaziz, Ben Youssef, Belkacem, Brahimi, Hamidi, Meziane,
Khelifi, Saidi, Amrani, El Amrani, Benmoussa, Boukhris, Rahmani, Slimani, Benamar, Taleb,
Chaoui, Djebbar, Ferhat, Kaci, Lounis, Mekki, Zerrouki, Aït Ali, Bensaïd, Boudjemaa,
Charef, Derbal, El Idrissi, Ouali, Tahiri, Yahiaoui, Zitouni, Benyahia, Hamdi, Larbi,
Bouzid, Messaoudi, Belhadj, Ben Salah, Gharbi, Trabelsi, Jaziri, Ben Amor, Bakkali, Alaoui,
""")
FAMILY_AFRICA = _words("""
N'Diaye, Diallo, Traoré, Diop, Sow, Camara, Coulibaly, Keïta, Cissé, Konaté, Sylla, Touré,
Fofana, Sissoko, Kouyaté, Gueye, Fall, Ba, Kone, Dembélé, Mbaye, Kanté, Doumbia, Bamba,
""")
FAMILY_OTHER = _words("""
Garcia, Martinez, Lopez, Sanchez, Fernandez, Rodriguez, Perez, Gonzalez, Da Silva,
Pereira, Ferreira, Dos Santos, Rodrigues, Lopes, Gonçalves, Fernandes, Martins, Oliveira,
Nguyen, Tran, Le, Pham, Rossi, Bianchi, Russo, Ferrari, Romano, Colombo, Yilmaz, Kaya,
Demir, Şahin, Kowalski, Nowak, Wagner, Becker, Hoffmann, Costa, Ribeiro, Carvalho,
""")

# a long tail of rarer names, built from parts (Beaubert, Chauville, Kerlaouen...)
_FR_HEADS = _words("""
Beau, Ber, Bou, Char, Chau, Del, Des, Du, Fau, Gal, Gil, Jou, Lab, Lam, Lav, Mar, Mon, Pel,
Pou, Rou, Sau, Tes, Vau, Ver, Vil, Bon, Cha, Cor, Fon, Gui, Lar, Mal, Mor, Pra, Ram, Ros,
Tal, Val, Bel, Cas, Dau, Gra, Lau, Mau, Pey, Tar
""")
_FR_TAILS = _words("""
bert, chon, det, gnon, lard, lier, mont, net, rand, rier, ssac, teau, vel, ville, zac, lot,
quet, rin, cq, lain, sson, taz, ron, guet, nier, dieu, lon, chet, gault, mas, tin, deau,
""")
_BR_TAILS = _words("laouen, gall, doncuff, mabon, ambrun, guelen, vella, brat, leroux, hervé")
_BR_LE = _words("""
Bris, Dantec, Goaziou, Lay, Nen, Page, Quéré, Rest, Saux, Troadec, Bescond, Bourhis,
Cornec, Duff, Fur, Gouil, Lann, Mao, Quellec, Scouarnec
""")
_MA_HEADS = _words("Ben, Bou, Bel, Ait, El, Ould")
_MA_TAILS = _words("""
ali, ahmed, amar, saïd, youcef, moussa, yahia, slimane, aïssa, khelifa, kacem, hamou,
rabah, aziz, taleb, mansour, djilali, meziane, larbi, naceur
""")

#: origin -> its share of the households
ORIGINS: dict[str, float] = {"fr": 0.73, "breton": 0.05, "maghreb": 0.12, "africa": 0.04,
                             "other": 0.06}  # fmt: skip


def _family_names() -> dict[str, Weighted]:
    """Per origin: the common names, Zipf-weighted, then a flat tail of rare ones that
    holds 55% of the French people and 35% of the Breton and North African ones. Martin
    is then 1.2% of the French-origin people (0.4% in France: these lists are short, so
    two people share a family name about 5 times as often as in France)."""
    fr_tail = sorted({re.sub(r"(.)\1\1", r"\1\1", h + t) for h in _FR_HEADS for t in _FR_TAILS})
    br_tail = sorted({"Ker" + t for t in _BR_TAILS} | {"Le " + t for t in _BR_LE})
    ma_tail = sorted({f"{h} {t.capitalize()}" if h in ("El", "Ould", "Ait") else h + t
                      for h in _MA_HEADS for t in _MA_TAILS})  # fmt: skip

    def build(common: list[str], tail: list[str], tail_share: float) -> Weighted:
        head = [1.0 / (i + 3.0) ** 0.6 for i in range(len(common))]
        scale = sum(head)
        rare = [tail_share / (1 - tail_share) * scale / len(tail)] * len(tail) if tail else []
        return Weighted(common + tail, head + rare)

    unique = list(dict.fromkeys(FAMILY_FR))
    return {
        "fr": build(unique, fr_tail, 0.55),
        "breton": build(FAMILY_BRETON, br_tail, 0.35),
        "maghreb": build(FAMILY_MAGHREB, ma_tail, 0.35),
        "africa": build(FAMILY_AFRICA, [], 0.0),
        "other": build(FAMILY_OTHER, [], 0.0),
    }


# -- given names: by sex and generation (born before 1965, 1965-1984, 1985 on) --------
GIVEN: dict[tuple[str, int], list[str]] = {
    ("f", 0): _words("""
        Marie, Monique, Françoise, Jacqueline, Nicole, Michèle, Danielle, Annie, Christiane,
        Josiane, Martine, Catherine, Sylvie, Chantal, Colette, Jeanne, Simone, Yvette,
        Marie-Claire, Marie-Thérèse, Geneviève, Denise, Brigitte, Évelyne, Paulette, Odette,
        Huguette, Ginette, Bernadette, Mireille, Anne-Marie, Marie-France, Suzanne, Claudine,
        Éliane, Gisèle, Arlette, Renée, Hélène, Madeleine, Dominique, Claude"""),
    ("f", 1): _words("""
        Nathalie, Isabelle, Sylvie, Valérie, Sandrine, Christine, Véronique, Catherine,
        Stéphanie, Céline, Sophie, Karine, Virginie, Corinne, Patricia, Laurence, Florence,
        Emmanuelle, Marie-Christine, Anne-Sophie, Delphine, Caroline, Frédérique, Aurélie,
        Élodie, Hélène, Muriel, Pascale, Agnès, Béatrice, Marie-Laure, Cécile, Fabienne,
        Sabrina, Audrey, Séverine, Laetitia, Carole, Anne, Myriam"""),
    ("f", 2): _words("""
        Léa, Manon, Camille, Chloé, Emma, Sarah, Laura, Julie, Marine, Pauline, Inès, Clara,
        Océane, Anaïs, Mathilde, Lucie, Justine, Marion, Louise, Jade, Élise, Charlotte,
        Morgane, Amandine, Mélanie, Émilie, Margaux, Juliette, Alice, Lola, Zoé, Romane,
        Anne-Sophie, Marie-Lou, Lisa, Eva, Noémie, Maëlle, Ambre, Clémence"""),
    ("m", 0): _words("""
        Jean, Michel, Pierre, André, Bernard, Jacques, Alain, Gérard, Daniel, Claude, René,
        Roger, Jean-Pierre, Jean-Claude, Robert, Marcel, Patrick, Christian, Georges, Serge,
        Jean-Marie, Guy, Henri, Louis, Yves, Jean-Louis, Maurice, Paul, Jean-Paul, Roland,
        Bernard, Joël, Raymond, Jean-Jacques, Gilbert, Francis, Guy, Lucien, Marc, Dominique"""),
    ("m", 1): _words("""
        Christophe, Philippe, Stéphane, Laurent, Frédéric, Éric, Olivier, Nicolas, Pascal,
        Thierry, David, Sébastien, Patrice, Didier, Franck, Jean-François, Jean-Marc,
        Vincent, Emmanuel, Bruno, Fabrice, Jérôme, Cédric, Hervé, Jean-Luc, Xavier, Arnaud,
        Ludovic, Yannick, Guillaume, Gilles, Denis, Lionel, Pierre-Yves, Jean-Michel, Benoît,
        Sylvain, Damien, Samuel, Régis"""),
    ("m", 2): _words("""
        Thomas, Nicolas, Julien, Kevin, Maxime, Alexandre, Lucas, Hugo, Antoine, Romain,
        Quentin, Clément, Théo, Louis, Mathieu, Adrien, Florian, Anthony, Jordan, Benjamin,
        Valentin, Paul, Nathan, Enzo, Arthur, Baptiste, Dylan, Jules, Tom, Raphaël, Gabriel,
        Léo, Corentin, Alexis, Jérémy, Matthieu, Pierre-Louis, Jean-Baptiste, Axel, Victor"""),
}
GIVEN_MAGHREB: dict[str, list[str]] = {
    "f": _words("""
        Fatima, Nadia, Samia, Leïla, Yasmina, Amina, Sarah, Inès, Myriam, Karima, Malika,
        Souad, Nora, Rachida, Sonia, Farida, Djamila, Naïma, Yamina, Hanane, Samira, Lina,
        Nour, Meriem, Assia, Sabrina, Hafsa, Imane, Khadija, Zohra"""),
    "m": _words("""
        Mohamed, Ahmed, Karim, Mehdi, Yassine, Sofiane, Nabil, Rachid, Samir, Bilal, Ali,
        Omar, Hamid, Mourad, Farid, Kamel, Abdel, Youssef, Said, Nordine, Hakim, Walid,
        Amine, Redouane, Mustapha, Brahim, Larbi, Khaled, Adel, Riad"""),
}
GIVEN_AFRICA: dict[str, list[str]] = {
    "f": _words("Aminata, Fatoumata, Aïssatou, Mariama, Kadiatou, Awa, Coumba, Aïcha, Binta, "
                "Oumou"),
    "m": _words("Mamadou, Moussa, Ibrahima, Oumar, Abdoulaye, Boubacar, Amadou, Souleymane, "
                "Cheikh, Seydou"),
}  # fmt: skip


# -- places: (commune, postcodes, people (thousands), phone zone) -------------------------
_PLACES: list[tuple[str, str, float, str]] = [
    ("Paris", " ".join(f"750{i:02d}" for i in range(1, 21)), 2100, "1"),
    ("Marseille", " ".join(f"130{i:02d}" for i in range(1, 17)), 870, "4"),
    ("Lyon", " ".join(f"6900{i}" for i in range(1, 10)), 520, "4"),
    ("Toulouse", "31000 31100 31200 31300 31400 31500", 500, "5"),
    ("Nice", "06000 06100 06200 06300", 340, "4"),
    ("Nantes", "44000 44100 44200 44300", 320, "2"),
    ("Montpellier", "34000 34070 34080 34090", 300, "4"),
    ("Strasbourg", "67000 67100 67200", 290, "3"),
    ("Bordeaux", "33000 33100 33200 33300 33800", 260, "5"),
    ("Lille", "59000 59160 59260 59800", 235, "3"),
    ("Rennes", "35000 35200 35700", 225, "2"),
    ("Reims", "51100", 180, "3"),
    ("Toulon", "83000 83100 83200", 180, "4"),
    ("Saint-Étienne", "42000 42100", 175, "4"),
    ("Le Havre", "76600 76610 76620", 165, "2"),
    ("Grenoble", "38000 38100", 160, "4"),
    ("Dijon", "21000", 160, "3"),
    ("Angers", "49000 49100", 157, "2"),
    ("Villeurbanne", "69100", 155, "4"),
    ("Saint-Denis", "93200 93210", 113, "1"),
    ("Nîmes", "30000 30900", 150, "4"),
    ("Clermont-Ferrand", "63000 63100", 147, "4"),
    ("Aix-en-Provence", "13090 13100 13290", 145, "4"),
    ("Le Mans", "72000 72100", 145, "2"),
    ("Brest", "29200", 140, "2"),
    ("Tours", "37000 37100 37200", 137, "2"),
    ("Amiens", "80000 80080 80090", 134, "3"),
    ("Limoges", "87000 87100 87280", 130, "5"),
    ("Annecy", "74000", 130, "4"),
    ("Perpignan", "66000 66100", 120, "4"),
    ("Boulogne-Billancourt", "92100", 120, "1"),
    ("Metz", "57000 57050 57070", 118, "3"),
    ("Besançon", "25000", 117, "3"),
    ("Orléans", "45000 45100", 116, "2"),
    ("Rouen", "76000 76100", 114, "2"),
    ("Argenteuil", "95100", 111, "1"),
    ("Montreuil", "93100", 111, "1"),
    ("Mulhouse", "68100 68200", 108, "3"),
    ("Caen", "14000", 106, "2"),
    ("Nancy", "54000 54100", 104, "3"),
    ("Tourcoing", "59200", 98, "3"),
    ("Roubaix", "59100", 98, "3"),
    ("Nanterre", "92000", 96, "1"),
    ("Vitry-sur-Seine", "94400", 95, "1"),
    ("Créteil", "94000", 92, "1"),
    ("Avignon", "84000", 91, "4"),
    ("Poitiers", "86000", 89, "5"),
    ("Aubervilliers", "93300", 88, "1"),
    ("Dunkerque", "59140 59240 59640", 87, "3"),
    ("Aulnay-sous-Bois", "93600", 86, "1"),
    ("Colombes", "92700", 86, "1"),
    ("Asnières-sur-Seine", "92600", 86, "1"),
    ("Versailles", "78000", 85, "1"),
    ("Courbevoie", "92400", 82, "1"),
    ("Rueil-Malmaison", "92500", 78, "1"),
    ("Pau", "64000", 77, "5"),
    ("La Rochelle", "17000", 77, "5"),
    ("Champigny-sur-Marne", "94500", 77, "1"),
    ("Antibes", "06600 06160", 73, "4"),
    ("Saint-Maur-des-Fossés", "94100 94210", 75, "1"),
    ("Cannes", "06400 06150", 74, "4"),
    ("Calais", "62100", 73, "3"),
    ("Béziers", "34500", 78, "4"),
    ("Colmar", "68000", 68, "3"),
    ("Bourges", "18000", 64, "2"),
    ("Drancy", "93700", 72, "1"),
    ("Mérignac", "33700", 72, "5"),
    ("Saint-Nazaire", "44600", 71, "2"),
    ("Ajaccio", "20000 20090", 71, "4"),
    ("Issy-les-Moulineaux", "92130", 69, "1"),
    ("Noisy-le-Grand", "93160", 69, "1"),
    ("Vénissieux", "69200", 67, "4"),
    ("Cergy", "95000 95800", 66, "1"),
    ("Quimper", "29000", 63, "2"),
    ("Valence", "26000", 64, "4"),
    ("Villeneuve-d'Ascq", "59491 59650", 62, "3"),
    ("Levallois-Perret", "92300", 66, "1"),
    ("Troyes", "10000", 61, "3"),
    ("Pessac", "33600", 64, "5"),
    ("Antony", "92160", 62, "1"),
    ("Chambéry", "73000", 60, "4"),
    ("Niort", "79000", 59, "5"),
    ("Lorient", "56100", 57, "2"),
    ("Sarcelles", "95200", 58, "1"),
    ("Vannes", "56000", 54, "2"),
    ("Saint-Quentin", "02100", 53, "3"),
    ("Beauvais", "60000", 56, "3"),
    ("Cholet", "49300", 54, "2"),
    ("Laval", "53000", 49, "2"),
    ("Bayonne", "64100", 52, "5"),
    ("Chartres", "28000", 39, "2"),
    ("Arras", "62000", 41, "3"),
    ("Évreux", "27000", 47, "2"),
    ("Belfort", "90000", 46, "3"),
    ("Blois", "41000", 46, "2"),
    ("Saint-Malo", "35400", 46, "2"),
    ("Châteauroux", "36000", 43, "2"),
    ("Brive-la-Gaillarde", "19100", 46, "5"),
    ("Albi", "81000", 49, "5"),
    ("Carcassonne", "11000", 46, "4"),
    ("Montauban", "82000", 61, "5"),
    ("Agen", "47000", 32, "5"),
    ("Périgueux", "24000", 30, "5"),
    ("Tarbes", "65000", 42, "5"),
    ("Mâcon", "71000", 34, "3"),
    ("Auxerre", "89000", 34, "3"),
    ("Nevers", "58000", 33, "3"),
    ("Épinal", "88000", 32, "3"),
    ("Charleville-Mézières", "08000", 46, "3"),
    ("Compiègne", "60200", 40, "3"),
    ("Douai", "59500", 40, "3"),
    ("Valenciennes", "59300", 43, "3"),
    ("Cherbourg-en-Cotentin", "50100 50130", 79, "2"),
    ("Saint-Brieuc", "22000", 44, "2"),
    ("Lannion", "22300", 20, "2"),
    ("Morlaix", "29600", 15, "2"),
    ("Landerneau", "29800", 16, "2"),
    ("Concarneau", "29900", 20, "2"),
    ("Douarnenez", "29100", 14, "2"),
    ("Pontivy", "56300", 15, "2"),
    ("Saint-Jean-de-Luz", "64500", 14, "5"),
    ("Sainte-Geneviève-des-Bois", "91700", 36, "1"),
    ("Saint-Germain-en-Laye", "78100", 45, "1"),
    ("Saint-Priest", "69800", 47, "4"),
    ("Saint-Herblain", "44800", 47, "2"),
    ("Saint-Raphaël", "83700", 35, "4"),
    ("Le Puy-en-Velay", "43000", 19, "4"),
    ("L'Haÿ-les-Roses", "94240", 31, "1"),
    ("Bourg-en-Bresse", "01000", 41, "4"),
    ("Gap", "05000", 41, "4"),
    ("Rodez", "12000", 24, "5"),
    ("Aurillac", "15000", 25, "4"),
    ("Guéret", "23000", 13, "5"),
    ("Lens", "62300", 31, "3"),
]

# the street names every French town has, most common first (Zipf-weighted)
_STREETS = _words("""
rue de la République, rue Victor Hugo, rue Jean Jaurès, avenue du Général de Gaulle,
rue Pasteur, place de l'Église, rue de la Gare, rue du Moulin, Grande Rue, rue des Écoles,
rue de Paris, boulevard Gambetta, rue Nationale, rue Carnot, avenue Jean Moulin,
rue des Lilas, chemin des Vignes, impasse des Roses, rue du Château, rue de l'Église,
allée des Tilleuls, rue Émile Zola, rue Voltaire, avenue de la Libération, rue du Stade,
rue Principale, rue des Jardins, rue du Four, rue Saint-Martin, boulevard Victor Hugo,
rue Anatole France, rue Louis Pasteur, avenue Foch, rue Gambetta, rue de Verdun,
rue du 8 Mai 1945, rue du 11 Novembre, rue des Acacias, rue de la Fontaine,
rue du Commerce, rue Jules Ferry, rue Paul Bert, rue Henri Barbusse, rue Gabriel Péri,
avenue Aristide Briand, rue de Strasbourg, rue de Lyon, route de Paris, rue des Peupliers,
rue des Mimosas, chemin du Moulin, rue de la Mairie, rue du Maréchal Foch,
boulevard de la Liberté, rue Alsace-Lorraine, rue de Bretagne, rue Pierre Curie,
rue Marcel Pagnol, rue Jean Moulin, place du Marché, avenue de la Gare, rue des Prés,
rue de Metz, quai de la Loire, cours Lafayette, rue Lafayette, rue de la Paix,
boulevard Jean Jaurès, avenue Victor Hugo, rue des Roses, rue de la Poste, rue du Port,
""")
_BUILDING = _words("""
Bât. A, Bât. B, Bât. C, Appt 12, Appt 3, Appt 21, Résidence les Pins, Résidence du Parc,
Escalier 2, Les Jardins de la Gare, Cité des Fleurs, Porte 14, Lot. les Chênes, 2e étage,
""")
_STREET_TYPES = {  # how a street type is written short
    "rue": ("r.", "r"), "avenue": ("av.", "av", "ave"), "boulevard": ("bd", "bld", "boul."),
    "place": ("pl.",), "chemin": ("ch.", "chem."), "allée": ("all.",), "impasse": ("imp.",),
    "route": ("rte",), "quai": ("q.",), "cours": ("crs",),
}  # fmt: skip

_EMAIL_DOMAINS = Weighted(
    _words("gmail.com, hotmail.fr, orange.fr, yahoo.fr, free.fr, sfr.fr, wanadoo.fr, "
           "laposte.net, outlook.fr, live.fr, icloud.com, hotmail.com, neuf.fr, bbox.fr"),
    [35, 11, 12, 7, 8, 5, 5, 5, 4, 3, 3, 3, 1, 1],
)  # fmt: skip
_WORK_DOMAINS = _words("""
credit-agricole.fr, sncf.fr, laposte.fr, edf.fr, ville-lyon.fr, ac-rennes.fr, chu-nantes.fr,
decathlon.com, renault.com, airbus.com, orange.com, societegenerale.fr, leclerc.fr,
ac-lille.fr, aphp.fr, bnpparibas.com, capgemini.com, thalesgroup.com, michelin.com, axa.fr,
""")
_DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmail.fr", "gmai.com", "gamil.com", "gmail.con"),
    "hotmail.fr": ("hotmial.fr", "hotmail.com", "hotmal.fr", "homail.fr"),
    "hotmail.com": ("hotmial.com", "hotmail.fr"),
    "orange.fr": ("orange.com", "ornage.fr", "orang.fr"),
    "yahoo.fr": ("yahoo.com", "yaho.fr", "yahou.fr"),
    "free.fr": ("fre.fr", "free.com"),
    "wanadoo.fr": ("wanado.fr", "wanadoo.com"),
    "laposte.net": ("laposte.fr", "lapost.net"),
    "sfr.fr": ("sfr.com",),
}  # fmt: skip

_AZERTY = ("azertyuiop", "qsdfghjklm", "wxcvbn")


def _neighbours() -> dict[str, str]:
    near: dict[str, str] = {}
    for r, row in enumerate(_AZERTY):
        for i, ch in enumerate(row):
            keys = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            keys += [_AZERTY[s][i] for s in (r - 1, r + 1) if 0 <= s < 3 and i < len(_AZERTY[s])]
            near[ch] = "".join(keys)
    return near


_NEAR = _neighbours()


@functools.lru_cache(maxsize=65536)
def plain(text: str) -> str:
    """The text without accents (``Hélène`` -> ``Helene``, ``Keïta`` -> ``Keita``)."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=65536)
def _ascii_key(text: str) -> str:
    """Lower-case ASCII letters and digits only: what an email local part is built of."""
    return "".join(c for c in plain(text).lower() if c.isalnum())


def typo(word: str, rng: random.Random) -> str:
    """One keying error: an AZERTY neighbour, a letter dropped, doubled or two swapped."""
    spots = [i for i, c in enumerate(word) if c.isalpha()]
    if len(spots) < 3:
        return word
    i = rng.choice(spots[1:])  # the first letter is the one people get right
    ch = word[i]
    kind = rng.random()
    if kind < 0.4:
        near = _NEAR.get(plain(ch).lower(), "")
        if not near:
            return word
        new = rng.choice(near)
        return word[:i] + (new.upper() if ch.isupper() else new) + word[i + 1 :]
    if kind < 0.6:
        return word[:i] + word[i + 1 :]
    if kind < 0.8:
        return word[:i] + ch + word[i:]
    j = i - 1 if word[i - 1].isalpha() and i - 1 > 0 else i + 1
    if j >= len(word) or not word[j].isalpha():
        return word[:i] + word[i + 1 :]
    a, b = sorted((i, j))
    return word[:a] + word[b] + word[a] + word[b + 1 :]


# -- the ground truth --------------------------------------------------------------------
class Place:
    __slots__ = ("building", "city", "number", "postcode", "street", "suffix", "zone")

    def __init__(self, city: str, postcode: str, zone: str, street: str, number: int,
                 suffix: str, building: str | None) -> None:  # fmt: skip
        self.city, self.postcode, self.zone = city, postcode, zone
        self.street, self.number, self.suffix, self.building = street, number, suffix, building


class Person:
    """One real person: what every record of theirs is written from."""

    __slots__ = ("birth", "emails", "family", "given", "household", "landline", "maiden",
                 "mobile", "old_mobile", "old_place", "pid", "place", "sex")  # fmt: skip

    def __init__(self, pid: int, household: int, sex: str, given: str, family: str,
                 birth: dt.date, place: Place) -> None:  # fmt: skip
        self.pid, self.household, self.sex = pid, household, sex
        self.given, self.family, self.birth, self.place = given, family, birth, place
        self.maiden: str | None = None
        self.mobile: str | None = None  # 9 national digits, without the leading 0
        self.old_mobile: str | None = None
        self.landline: str | None = None
        self.emails: list[str] = []
        self.old_place: Place | None = None


class Generator:
    """The state of one seeded run: the random source, the names taken, the counters."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.families = _family_names()
        self.origins = Weighted(list(ORIGINS), list(ORIGINS.values()))
        self.given = {key: Weighted.zipf(names, 0.8, 1.5) for key, names in GIVEN.items()}
        self.given_maghreb = {s: Weighted.zipf(n, 0.8, 1.5) for s, n in GIVEN_MAGHREB.items()}
        self.given_africa = {s: Weighted.zipf(n, 0.8, 1.5) for s, n in GIVEN_AFRICA.items()}
        self.places = Weighted([str(i) for i in range(len(_PLACES))], [p[2] for p in _PLACES])
        self.streets = Weighted.zipf(_STREETS, 0.6, 2.0)
        self.emails_taken: set[str] = set()
        self.numbers_taken: set[str] = set()
        self.persons = 0
        self.households = 0

    # -- people ---------------------------------------------------------------------
    def birth(self, low: int, high: int) -> dt.date:
        year = self.rng.randint(low, high)
        return dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))

    def given_name(self, sex: str, origin: str, born: dt.date) -> str:
        rng = self.rng
        if origin == "maghreb" and rng.random() < 0.75:
            return self.given_maghreb[sex].pick(rng)
        if origin == "africa" and rng.random() < 0.7:
            return self.given_africa[sex].pick(rng)
        generation = 0 if born.year < 1965 else 1 if born.year < 1985 else 2
        return self.given[(sex, generation)].pick(rng)

    def place(self, near: Place | None = None) -> Place:
        rng = self.rng
        if near is not None and rng.random() < 0.5:  # moved within the same town
            city, postcodes, zone = near.city, [near.postcode], near.zone
            if rng.random() < 0.5:
                postcodes = _PLACES[self._place_index(near.city)][1].split()
        else:
            city, codes, _, zone = _PLACES[int(self.places.pick(rng))]
            postcodes = codes.split()
        number = min(1 + int(rng.expovariate(1 / 28)), 250)
        suffix = "bis" if rng.random() < 0.03 else "ter" if rng.random() < 0.005 else ""
        building = rng.choice(_BUILDING) if rng.random() < 0.15 else None
        return Place(city, rng.choice(postcodes), zone, self.streets.pick(rng), number, suffix,
                     building)  # fmt: skip

    @staticmethod
    @functools.cache
    def _place_index(city: str) -> int:
        return next(i for i, p in enumerate(_PLACES) if p[0] == city)

    def mobile(self) -> str:
        rng = self.rng
        while True:
            if rng.random() < 0.7:
                number = "6" + rng.choice("012345678")  # 069 is partly unallocated
            else:
                number = "7" + rng.choice("3456789")  # 070-072 are not allocated
            number += f"{rng.randrange(10**7):07d}"
            if number.startswith("639"):  # 0639 is not allocated either
                continue
            if number not in self.numbers_taken:
                self.numbers_taken.add(number)
                return number

    def landline(self, zone: str) -> str:
        rng = self.rng
        while True:
            if rng.random() < 0.45:  # the box's number
                number = "9" + rng.choice("5678") + f"{rng.randrange(10**7):07d}"
            else:
                second = rng.choice(
                    {"1": "3456789", "2": "1234589", "3": "1234567", "4": "2345679",
                     "5": "345678"}[zone]
                )  # fmt: skip
                number = zone + second + f"{rng.randrange(10**7):07d}"
            if number not in self.numbers_taken:
                self.numbers_taken.add(number)
                return number

    def email(self, given: str, family: str, born: dt.date, work: bool = False) -> str:
        rng = self.rng
        g, f = _ascii_key(given), _ascii_key(family)
        g1 = g[:1]
        yy, nn = f"{born.year % 100:02d}", str(rng.randrange(1, 100))
        locals_: tuple[str, ...]
        if work:
            locals_ = (f"{g}.{f}", f"{g1}{f}", f"{g1}.{f}")
            domain = rng.choice(_WORK_DOMAINS)
        else:
            locals_ = (f"{g}.{f}", f"{g}.{f}", f"{g1}{f}", f"{g}{f}", f"{f}.{g}",
                       f"{g}.{f}{yy}", f"{g}{f}{nn}", f"{g1}.{f}", f"{g}_{f}", f"{f}{g1}",
                       f"{g}{born.year}", f"{g}.{f}{born.year}", f"{f}{nn}")  # fmt: skip
            domain = _EMAIL_DOMAINS.pick(rng)
        local = rng.choice(locals_)
        address = f"{local}@{domain}"
        while address in self.emails_taken:
            address = f"{local}{rng.randrange(1, 1000)}@{domain}"
        self.emails_taken.add(address)
        return address

    def person(self, household: int, sex: str, origin: str, family: str, born: dt.date,
               place: Place, given: str | None = None) -> Person:  # fmt: skip
        rng = self.rng
        self.persons += 1
        name = given or self.given_name(sex, origin, born)
        p = Person(self.persons, household, sex, name, family, born, place)
        age = 2025 - born.year
        if rng.random() < (0.95 if age < 70 else 0.7):
            p.mobile = self.mobile()
        if rng.random() < (0.85 if age < 75 else 0.45):
            p.emails.append(self.email(name, family, born))
            if rng.random() < 0.2:
                p.emails.append(self.email(name, family, born, work=rng.random() < 0.5))
        return p

    def household(self) -> list[Person]:
        """The people of one household who are customers (one at least)."""
        rng = self.rng
        self.households += 1
        hid = self.households
        origin = self.origins.pick(rng)
        family = self.families[origin].pick(rng)
        place = self.place()
        shape = rng.random()
        people: list[Person] = []
        sex = "f" if rng.random() < 0.52 else "m"
        if shape < 0.40:  # alone
            people.append(self.person(hid, sex, origin, family, self.birth(1935, 2004), place))
        elif shape < 0.92:  # a couple, with children half the time
            born = self.birth(1940, 1998)
            husband = self.person(hid, "m", origin, family, born, place)
            wife_born = born + dt.timedelta(days=rng.randint(-2500, 1200))
            maiden_origin = origin if rng.random() < 0.8 else self.origins.pick(rng)
            maiden = self.families[maiden_origin].pick(rng)
            married = rng.random() < 0.6
            wife = self.person(hid, "f", maiden_origin, family if married else maiden,
                               wife_born, place)  # fmt: skip
            if married and maiden != family:
                wife.maiden = maiden
            people += [husband, wife]
            if shape < 0.65 and born.year < 1985:
                for _ in range(rng.choice((1, 1, 2, 2, 3))):
                    child_born = self.birth(born.year + 20, min(born.year + 40, 2005))
                    child_sex = "f" if rng.random() < 0.5 else "m"
                    same = child_sex == "m" and rng.random() < 0.03  # the son has his father's name
                    people.append(self.person(hid, child_sex, origin, family, child_born, place,
                                              husband.given if same else None))  # fmt: skip
            if rng.random() < 0.12:  # one family mailbox for the couple
                g = _ascii_key(husband.given)[:1] + _ascii_key(wife.given)[:1]
                f = _ascii_key(family)
                local = rng.choice((f"famille.{f}", f"{f}.{g}", f"{f}{g}", f"fam{f}"))
                domain = _EMAIL_DOMAINS.pick(rng)
                shared = f"{local}@{domain}"
                while shared in self.emails_taken:
                    shared = f"{local}{rng.randrange(1, 100)}@{domain}"
                self.emails_taken.add(shared)
                for spouse in (husband, wife):
                    if rng.random() < 0.6:
                        spouse.emails.insert(0, shared)  # the one they give first
                    else:
                        spouse.emails.append(shared)
        else:  # flatmates, or a parent and a grown-up child
            born = self.birth(1950, 1990)
            people.append(self.person(hid, sex, origin, family, born, place))
            if born.year <= 1983 and rng.random() < 0.5:
                child_born = self.birth(max(born.year + 20, 1985), 2005)
                child_sex = "f" if rng.random() < 0.5 else "m"
                people.append(self.person(hid, child_sex, origin, family, child_born, place))
            else:
                other = self.origins.pick(rng)
                people.append(self.person(hid, "f" if rng.random() < 0.5 else "m", other,
                                          self.families[other].pick(rng),
                                          self.birth(1975, 2003), place))  # fmt: skip
        if rng.random() < (0.5 if people[0].birth.year < 1970 else 0.3):
            line = self.landline(place.zone)
            for p in people:
                p.landline = line
        # who of them is a customer: the first always, each other one time in two
        return [p for i, p in enumerate(people) if i == 0 or rng.random() < 0.5]

    # -- writing -------------------------------------------------------------------
    def write_phone(self, digits: str) -> str:
        rng = self.rng
        x = rng.random()
        if x < 0.01:
            digits = digits[:-1]  # a digit missing: not a number at all
        elif x < 0.02:
            i = rng.randrange(2, len(digits))
            digits = digits[:i] + str((int(digits[i]) + rng.randint(1, 9)) % 10) + digits[i + 1 :]
        national = "0" + digits
        pairs = " ".join(national[i : i + 2] for i in range(0, len(national), 2))
        style = rng.random()
        if style < 0.32:
            return pairs
        if style < 0.55:
            return national
        if style < 0.65:
            return "+33 " + digits[0] + " " + " ".join(digits[i : i + 2] for i in range(1, 9, 2))
        if style < 0.73:
            return "+33" + digits
        if style < 0.78:
            return "0033" + digits
        if style < 0.88:
            return pairs.replace(" ", ".")
        if style < 0.95:
            return pairs.replace(" ", "-")
        return "(0)" + pairs[1:]

    def write_email(self, address: str) -> str:
        rng = self.rng
        local, domain = address.split("@")
        x = rng.random()
        if x < 0.03 and domain in _DOMAIN_TYPOS:
            domain = rng.choice(_DOMAIN_TYPOS[domain])
        elif x < 0.045:
            local = typo(local, rng)
        elif x < 0.055:  # not an address at all
            return rng.choice((
                f"{local}@{domain.replace('.', ',')}", f"{local}@{domain.split('.')[0]}",
                f"{local}@@{domain}", f"{local.replace('.', ' ')}@{domain}", f"{local}.{domain}",
            ))  # fmt: skip
        written = f"{local}@{domain}"
        case = rng.random()
        if case < 0.08:
            written = (
                ".".join(p[:1].upper() + p[1:] for p in local.split("."))
                + "@"
                + (domain[:1].upper() + domain[1:])
            )
        elif case < 0.1:
            written = written.upper()
        if rng.random() < 0.05:
            written = rng.choice((" ", "  ", "\t")) + written + rng.choice(("", " "))
        return written

    def write_given(self, name: str, plain_only: bool) -> str:
        rng = self.rng
        if "-" in name and rng.random() < 0.25:  # Jean-Pierre
            name = rng.choice((name.replace("-", " "), name.split("-")[0]))
        if plain_only or rng.random() < 0.12:
            name = plain(name)
        if rng.random() < 0.03:
            name = typo(name, rng)
        return name

    def write_family(self, name: str, plain_only: bool) -> str:
        rng = self.rng
        if (" " in name or "'" in name) and rng.random() < 0.3:  # Le Goff, N'Diaye, Ben Youssef
            name = rng.choice((name.replace(" ", "").replace("'", ""), name.replace(" ", "-"),
                               name.replace("'", " ")))  # fmt: skip
        if plain_only or rng.random() < 0.12:
            name = plain(name)
        if rng.random() < 0.03:
            name = typo(name, rng)
        return name

    def write_names(self, p: Person, source: str, family: str
                    ) -> tuple[str, str | None, str | None]:  # fmt: skip
        """(display name, given name, family name) as the touchpoint writes them."""
        rng = self.rng
        legacy = source == "import"
        given = self.write_given(p.given, legacy)
        fam = self.write_family(family, legacy)
        split = source in ("web", "store", "import", "newsletter")
        if split and rng.random() < 0.9:
            case = rng.random()
            if legacy or case < 0.25:
                fam = fam.upper()
                if legacy:
                    given = given.upper()
            elif case < 0.35:
                given, fam = given.lower(), fam.lower()
            if rng.random() < (0.06 if source == "store" else 0.01):
                given = given[0].upper() + "."
            if rng.random() < 0.02:  # typed in the wrong boxes
                given, fam = fam, given
            return " ".join((given, fam)), given, fam
        # one name field, written as the agent or the form had it
        style = rng.random()
        initial = given[0].upper() + "."
        title = "Mme" if p.sex == "f" else rng.choice(("M.", "Mr"))
        if style < 0.3:
            display = f"{fam.upper()} {given}"
        elif style < 0.4:
            display = rng.choice((f"{fam}, {initial}", f"{fam.upper()} {initial}"))
        elif style < 0.55:
            display = f"{given} {fam}".lower()
        elif style < 0.75:
            display = f"{given} {fam}"
        elif style < 0.83:
            display = f"{title} {given} {fam.upper()}"
        elif style < 0.95:
            display = f"{fam} {given}"
        else:
            display = f"{given} {fam[0].upper()}."
        return display, None, None

    def write_birth(self, born: dt.date) -> str:
        rng = self.rng
        x = rng.random()
        if x < 0.03 and born.day <= 12 and born.day != born.month:
            return f"{born.year:04d}-{born.day:02d}-{born.month:02d}"
        if x < 0.045:
            wrong = born.replace(day=min(28, max(1, born.day + rng.choice((-1, 1, 10, -10)))))
            return wrong.isoformat()
        if x < 0.05:
            year = born.year + rng.choice((-1, 1, -10, 10))
            day = min(born.day, 28) if born.month == 2 else born.day  # not a 29 February
            return born.replace(year=year, day=day).isoformat()
        return born.isoformat()

    def write_place(self, place: Place, legacy: bool) -> tuple[list[str], str, str]:
        rng = self.rng
        street = place.street
        if rng.random() < 0.15:
            first, _, rest = street.partition(" ")
            short = _STREET_TYPES.get(first.lower())
            if short and rest:
                street = f"{rng.choice(short)} {rest}"
        if rng.random() < 0.03:
            street = typo(street, rng)
        suffix = place.suffix
        if suffix and rng.random() < 0.5:
            suffix = " " + suffix
        number = f"{place.number}{suffix}"
        line = f"{number}, {street}" if rng.random() < 0.15 else f"{number} {street}"
        city = place.city
        if city in ("Paris", "Marseille", "Lyon") and rng.random() < 0.3:
            arr = int(place.postcode[-2:])
            city = rng.choice((f"{city} {arr}", f"{city} {arr}e", f"{city} {arr:02d}"))
        if city.startswith("Saint") and rng.random() < 0.4:
            city = city.replace("Saint-", rng.choice(("St-", "St ", "ST "))).replace(
                "Sainte-", "Ste-"
            )
        if legacy or rng.random() < 0.25:
            line, city = plain(line).upper(), plain(city).upper()
            if rng.random() < 0.5:
                city = city.replace("-", " ")
        elif rng.random() < 0.1:
            line = line.lower()
        lines = [line]
        if place.building and rng.random() < 0.6:
            building = plain(place.building).upper() if legacy else place.building
            lines = [building, line] if rng.random() < 0.5 else [line, building]
        postcode = place.postcode
        x = rng.random()
        if x < 0.01:
            i = rng.randrange(2, 4)
            postcode = postcode[:i] + postcode[i + 1] + postcode[i] + postcode[i + 2 :]
        elif x < 0.015:
            postcode = postcode[:4] + str((int(postcode[4]) + 1) % 10)
        return lines, postcode, city

    def records_of(self, p: Person, count: int) -> list[Record]:
        """``count`` records of one person, each from a touchpoint."""
        rng = self.rng
        out: list[Record] = []
        moved = count > 1 and rng.random() < 0.25
        if moved:
            p.old_place = self.place(near=p.place)
        changed_mobile = count > 1 and p.mobile is not None and rng.random() < 0.07
        if changed_mobile:
            p.old_mobile = self.mobile()
        for k in range(count):
            source = _SOURCES.pick(rng)
            old = k == 0 and count > 1  # the first record is the oldest one
            family = p.maiden if p.maiden and rng.random() < (0.5 if old else 0.15) else p.family
            display, given, fam = self.write_names(p, source, family)
            record: Record = {
                "id": "", "source": source, "display_name": display, "given_name": given,
                "family_name": fam, "birth_date": None, "emails": [], "phones": [],
                "address_lines": None, "postcode": None, "city": None,
            }  # fmt: skip
            want = _FIELDS[source]
            if rng.random() < want["birth"]:
                record["birth_date"] = self.write_birth(p.birth)
            if p.emails and rng.random() < want["email"]:
                emails = p.emails
                first = emails[0] if len(emails) == 1 or rng.random() < 0.6 else rng.choice(emails)
                record["emails"] = [self.write_email(first)]
            mobile = p.old_mobile if old and changed_mobile else p.mobile
            numbers = [n for n in (mobile, p.landline) if n]
            if numbers and rng.random() < want["phone"]:
                first = numbers[0] if rng.random() < 0.75 else numbers[-1]
                record["phones"] = [self.write_phone(first)]
                if len(numbers) == 2 and rng.random() < want["both_phones"]:
                    record["phones"].append(self.write_phone(numbers[1] if first == numbers[0]
                                                             else numbers[0]))  # fmt: skip
            if rng.random() < want["address"]:
                place = p.old_place if moved and old and p.old_place else p.place
                lines, postcode, city = self.write_place(place, source == "import")
                record["address_lines"], record["postcode"], record["city"] = lines, postcode, city
            if not (record["emails"] or record["phones"] or record["address_lines"]):
                # a record reaches the base through one channel at least
                if source == "newsletter" and p.emails:
                    record["emails"] = [self.write_email(p.emails[0])]
                elif numbers and source in ("sms", "call"):
                    record["phones"] = [self.write_phone(numbers[0])]
                else:
                    lines, postcode, city = self.write_place(p.place, source == "import")
                    record["address_lines"], record["postcode"], record["city"] = (
                        lines,
                        postcode,
                        city,
                    )
            out.append(record)
        return out


#: the touchpoints and how often a record comes from each
_SOURCES = Weighted(
    ["web", "store", "call", "import", "newsletter", "sms"], [30, 20, 14, 16, 11, 9]
)
#: per touchpoint, the chance that a record carries each field
_FIELDS: dict[str, dict[str, float]] = {
    "web": {"birth": 0.3, "email": 1.0, "phone": 0.6, "both_phones": 0.1, "address": 0.55},
    "store": {"birth": 0.5, "email": 0.5, "phone": 0.7, "both_phones": 0.1, "address": 0.8},
    "call": {"birth": 0.05, "email": 0.1, "phone": 1.0, "both_phones": 0.0, "address": 0.35},
    "import": {"birth": 0.6, "email": 0.2, "phone": 0.5, "both_phones": 0.3, "address": 0.95},
    "newsletter": {"birth": 0.05, "email": 1.0, "phone": 0.0, "both_phones": 0.0, "address": 0.0},
    "sms": {"birth": 0.0, "email": 0.0, "phone": 1.0, "both_phones": 0.0, "address": 0.0},
}  # fmt: skip
#: how many records a person has
_COPIES = Weighted(["1", "2", "3", "4"], [85, 11, 3, 1])


def iter_records(n_records: int, seed: int) -> Iterator[tuple[Record, Person]]:
    """``n_records`` records, each with the person it is of (who knows their household),
    streamed.

    A person's later records are held back and given among other people's later on (a
    bounded buffer), as a base gets them over the years; ids are numbered in the order
    the records are given.
    """
    gen = Generator(seed)
    rng = random.Random(seed * 7919 + 1)  # the order, apart from the people drawn
    held: list[tuple[Record, Person]] = []
    made = given = 0
    hold = max(64, min(20_000, n_records // 20))

    def emit(item: tuple[Record, Person]) -> tuple[Record, Person]:
        nonlocal given
        given += 1
        item[0]["id"] = f"r{given:07d}"
        return item

    while made < n_records:
        for person in gen.household():
            count = int(_COPIES.pick(gen.rng))
            records = gen.records_of(person, count)[: n_records - made]
            made += len(records)
            if not records:
                break
            yield emit((records[0], person))
            held.extend((r, person) for r in records[1:])
            while len(held) > hold:
                i = rng.randrange(len(held))
                held[i], held[-1] = held[-1], held[i]
                yield emit(held.pop())
    rng.shuffle(held)
    for item in held:
        yield emit(item)


def generate_with_truth(
    n_parties: int, seed: int
) -> tuple[list[Record], set[frozenset[str]], dict[str, Person]]:
    """:func:`generate` and, per record id, the person it is of (``pid``, ``household``,
    ``given``, ``family``, ``birth``...)."""
    records: list[Record] = []
    of: dict[str, Person] = {}
    by_person: dict[int, list[str]] = {}
    for record, person in iter_records(n_parties, seed):
        records.append(record)
        of[record["id"]] = person
        by_person.setdefault(person.pid, []).append(record["id"])
    pairs = {
        frozenset(pair)
        for ids in by_person.values()
        if len(ids) > 1
        for pair in itertools.combinations(ids, 2)
    }
    return records, pairs, of


def generate(n_parties: int, seed: int) -> tuple[list[Record], set[frozenset[str]]]:
    """``n_parties`` records and the true duplicate pairs (every pair of record ids of
    one person). The same seed gives the same records, ids and pairs."""
    records, pairs, _ = generate_with_truth(n_parties, seed)
    return records, pairs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="how many records")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stats", action="store_true", help="counts and timing, no records")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    records, pairs, of = generate_with_truth(args.count, args.seed)
    seconds = time.perf_counter() - started
    if not args.stats:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 0
    persons = {p.pid for p in of.values()}
    with_copies = {of[i].pid for pair in pairs for i in pair}
    names: dict[tuple[str, str, str], set[int]] = {}
    for record in records:
        if record["given_name"] and record["family_name"] and record["postcode"]:
            key = (_ascii_key(record["given_name"]), _ascii_key(record["family_name"]),
                   record["postcode"])  # fmt: skip
            names.setdefault(key, set()).add(of[record["id"]].pid)
    namesakes = sum(len(p) * (len(p) - 1) // 2 for p in names.values())
    gen = Generator(args.seed)
    print(
        f"{len(records)} records of {len(persons)} persons in "
        f"{len({p.household for p in of.values()})} households, {seconds:.1f} s"
    )
    print(
        f"persons with duplicates: {len(with_copies)} ({len(with_copies) / len(persons):.1%});"
        f" true pairs: {len(pairs)}"
    )
    print(
        f"pairs of different persons with the same given and family name (as typed, "
        f"accents dropped) and postcode: {namesakes}"
    )
    print(
        f"share of the French family name Martin: {gen.families['fr'].share('Martin'):.2%} "
        f"of French-origin people; two people share a family name (same origin): "
        f"{gen.families['fr'].collision():.4f}"
    )
    for field in ("birth_date", "given_name"):
        print(f"records with {field}: {sum(1 for r in records if r[field]) / len(records):.0%}")
    for field in ("emails", "phones", "address_lines"):
        print(f"records with {field}: {sum(1 for r in records if r[field]) / len(records):.0%}")
    one = sum(
        1 for r in records if not r["address_lines"] and bool(r["emails"]) != bool(r["phones"])
    )
    print(f"one-channel records (an email or a phone alone): {one / len(records):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
