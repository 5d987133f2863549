#!/usr/bin/env python3
"""Generate the tuneforge invoice-extraction demo dataset.

Synthetic supplier invoices (English, Dutch, German) as they look when pasted
from a PDF or an e-mail, each paired with the JSON fields a model should
extract from it. Everything is invented by this script: company names,
addresses, IBANs (valid check digits, fictitious accounts), VAT numbers and
amounts. Standard library only; fully deterministic:

    python examples/invoice-extraction/make_data.py

rewrites train.jsonl (300 lines) and test.jsonl (80 lines) next to this file,
byte-identically on every run. The test split uses a held-out ~20% of the
supplier pool, so no test supplier name ever occurs in train.

Released under CC0 1.0 (public domain dedication).
"""

import datetime as dt
import json
import os
import random

SEED = 20240615
N_TRAIN = 300
N_TEST = 80
HOLDOUT_FRACTION = 0.2
LANG_SHARE = (("en", 0.50), ("nl", 0.25), ("de", 0.25))
MIN_WORDS, MAX_WORDS = 25, 70

HERE = os.path.dirname(os.path.abspath(__file__))

SYSTEM = (
    "Extract the invoice fields as JSON with keys supplier, invoice_number, "
    "date (YYYY-MM-DD), currency (ISO code), total (number, incl. VAT) and "
    "vat (number). Answer with the JSON object only."
)

# --------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------

SUPPLIERS = {
    "NL": [
        "Van der Berg Logistiek B.V.", "Bakker Installatietechniek B.V.",
        "De Vries Verpakkingen BV", "Jansen & Zn. Bouwmaterialen B.V.",
        "Noordzee Visgroothandel B.V.", "Hollandse Kantoorinrichting BV",
        "Visser ICT Diensten B.V.", "Groene Hart Hoveniers V.O.F.",
        "Smit Elektrotechniek B.V.", "Meijer Schoonmaakdiensten BV",
        "Brouwer Drukwerk B.V.", "Dijkstra Transport B.V.",
        "Kaasmakerij Mulder B.V.", "Van Leeuwen Koeltechniek B.V.",
        "Polderdata Solutions B.V.", "Hendriks Metaalbewerking BV",
        "Koninklijke Tuinbouw Coöperatie U.A.", "Rijnmond Havenservice B.V.",
        "Van Dam Catering B.V.", "Westland Sierteelt B.V.",
        "Oranje Fietsonderdelen BV", "Friesland Zuivelhandel N.V.",
    ],
    "BE": [
        "Vlaamse Bouwgroep NV", "Antwerp Diamond Tools BV",
        "Gentse Drukkerij BV", "Brabo Consultancy CommV",
    ],
    "DE": [
        "Müller Maschinenbau GmbH", "Schneider Elektrotechnik GmbH & Co. KG",
        "Bäckerei Hoffmann e.K.", "Weber Logistik GmbH",
        "Fischer Softwarehaus AG", "Becker Büroausstattung GmbH",
        "Schulz Gebäudereinigung GmbH", "Wagner Metallbau KG",
        "Krause IT-Service UG (haftungsbeschränkt)", "Rheinland Druckerei GmbH",
        "Nordsee Spedition GmbH", "Bauer Sanitärtechnik e.K.",
        "Hanseatische Papierwerke AG", "Schwarzwald Holzhandel GmbH",
        "Richter Steuerberatung GmbH", "Zimmermann Gerüstbau GmbH",
        "Koch Lebensmittelgroßhandel GmbH", "Braun Medizintechnik AG",
        "Lange Kältetechnik GmbH", "Wolff & Söhne OHG",
        "Alpenblick Hotelbedarf GmbH", "Bergmann Verpackungen GmbH",
    ],
    "AT": [
        "Steirische Holzbau GmbH", "Wiener Kaffeerösterei GmbH",
        "Donau Technik GmbH", "Gruber Elektro e.U.",
        "Salzburger Messebau GmbH",
    ],
    "CH": [
        "Helvetia Präzisionsmechanik AG", "Zürcher Treuhand AG",
        "Berner Uhrenteile GmbH", "Basler Laborbedarf AG",
        "Luzerner Gastro Service GmbH",
    ],
    "UK": [
        "Thames Valley Office Supplies Ltd", "Northern Lights Electrical Ltd",
        "Bramble & Finch Design Ltd", "Kingsway Freight Services Ltd",
        "Pennine Software Solutions Ltd", "Harbour Marine Engineering PLC",
        "Oakridge Catering Ltd", "Clarke & Hughes LLP",
        "Redbrick Print Works Ltd", "Sterling Facilities Management Ltd",
        "Westgate Packaging Ltd", "Cotswold Timber Ltd",
        "Mersey Industrial Cleaning Ltd", "Highland Data Centres Ltd",
    ],
    "IE": [
        "Liffey Cloud Services Ltd", "Shannon Logistics Limited",
        "Galway Bay Seafoods Ltd",
    ],
    "US": [
        "Bluewater Analytics Inc.", "Granite Peak Software LLC",
        "Lakeshore Industrial Supply Inc.", "Redwood Media Group LLC",
        "Summit Lab Instruments Inc.",
    ],
}

CUSTOMERS = {
    "NL": ["Hotel De Gouden Leeuw B.V.", "Stichting Zorggroep Oost",
           "Albers Retail B.V.", "TechnoPark Eindhoven B.V.",
           "Restaurant De Molen V.O.F.", "Gemeente Zwolle"],
    "BE": ["Brasserie Het Anker BV", "Limburgse Bouwunie NV"],
    "DE": ["Stadtwerke Kassel GmbH", "Autohaus Neumann GmbH",
           "Praxis Dr. Keller", "Hotel Seeblick GmbH",
           "Brauerei Ostermann KG", "Kita Sonnenschein e.V."],
    "AT": ["Gasthof Zur Post GmbH", "Ordination Dr. Huber"],
    "CH": ["Spital Limmattal", "Bergbahnen Engelberg AG"],
    "UK": ["Ashford Dental Practice Ltd", "Greenfield Academy Trust",
           "The Crown & Anchor Pub Ltd", "Baxter Property Group Ltd"],
    "IE": ["Connolly Pharmacy Ltd", "Kilkenny Hotels Group Ltd"],
    "US": ["Pinecrest Foods Inc.", "Harborview Medical Group LLC"],
}

PEOPLE = {
    "en": ["Emily Carter", "James Whitfield", "Priya Shah", "Tom Gallagher",
           "Laura Bennett", "Oliver Grant"],
    "nl": ["Sanne de Boer", "Pieter Jansen", "Fleur van Dijk", "Daan Mulder",
           "Lotte Bos", "Ruben Kok"],
    "de": ["Markus Keller", "Julia Braun", "Stefan Hoffmann", "Anna Lehmann",
           "Tobias Wolf", "Sabine Krüger"],
}

STREETS = {
    "NL": ["Keizersgracht", "Stationsweg", "Industrieweg", "Havenstraat",
           "Kerkstraat", "Marconistraat", "Energieweg", "Parallelweg"],
    "BE": ["Meir", "Nijverheidsstraat", "Kouter", "Brusselsesteenweg"],
    "DE": ["Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gewerbering",
           "Lindenallee", "Schillerstraße", "Am Hafen", "Mühlenweg"],
    "AT": ["Mariahilfer Straße", "Landstraße", "Gewerbepark", "Ringstraße"],
    "CH": ["Bahnhofstrasse", "Seestrasse", "Industriestrasse", "Dorfstrasse"],
    "UK": ["High Street", "Station Road", "Mill Lane", "Church Street",
           "Victoria Road", "Park Avenue"],
    "IE": ["Harbour Road", "Main Street", "Dock Road"],
    "US": ["Market Street", "Commerce Drive", "Oak Avenue", "Industrial Parkway"],
}

CITIES = {
    "NL": ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Groningen",
           "Zwolle", "Breda", "Nijmegen", "Tilburg", "Haarlem", "Venlo", "Delft"],
    "BE": ["Antwerpen", "Gent", "Brugge", "Leuven", "Hasselt"],
    "DE": ["München", "Hamburg", "Köln", "Stuttgart", "Leipzig", "Düsseldorf",
           "Bremen", "Hannover", "Nürnberg", "Freiburg", "Dortmund", "Mainz"],
    "AT": ["Wien", "Graz", "Linz", "Salzburg", "Innsbruck"],
    "CH": ["Zürich", "Bern", "Basel", "Luzern", "Winterthur"],
    "UK": [("London", "EC1V 2NX"), ("Manchester", "M1 3HU"), ("Leeds", "LS1 4DY"),
           ("Bristol", "BS1 5TR"), ("Birmingham", "B3 2PP"), ("Glasgow", "G2 8LY"),
           ("Reading", "RG1 1JX"), ("Cambridge", "CB2 1TN")],
    "IE": [("Dublin", "D02 X285"), ("Cork", "T12 K8AF"), ("Galway", "H91 E2K3")],
    "US": [("Austin", "TX 78701"), ("Denver", "CO 80202"), ("Chicago", "IL 60601"),
           ("Boston", "MA 02110"), ("Seattle", "WA 98101")],
}

COUNTRY_NAME = {
    "en": {"NL": "The Netherlands", "BE": "Belgium", "DE": "Germany",
           "AT": "Austria", "CH": "Switzerland", "UK": "United Kingdom",
           "IE": "Ireland", "US": "USA"},
    "nl": {"NL": "Nederland", "BE": "België", "DE": "Duitsland",
           "AT": "Oostenrijk", "CH": "Zwitserland", "UK": "Verenigd Koninkrijk",
           "IE": "Ierland", "US": "Verenigde Staten"},
    "de": {"NL": "Niederlande", "BE": "Belgien", "DE": "Deutschland",
           "AT": "Österreich", "CH": "Schweiz", "UK": "Großbritannien",
           "IE": "Irland", "US": "USA"},
}

# Line items by sector: (en, nl, de, min unit price EUR, max unit price EUR,
# min qty, max qty).
ITEMS = {
    "freight": [
        ("Freight Rotterdam-Duisburg", "Vracht Rotterdam-Duisburg",
         "Fracht Rotterdam-Duisburg", 250, 1800, 1, 3),
        ("Pallet storage (week)", "Palletopslag (week)", "Palettenlagerung (Woche)",
         4, 12, 10, 120),
        ("Container handling", "Containerafhandeling", "Containerumschlag",
         90, 450, 1, 6),
        ("Fuel surcharge", "Brandstoftoeslag", "Treibstoffzuschlag", 20, 180, 1, 1),
    ],
    "it": [
        ("Software licence (annual)", "Softwarelicentie (jaar)",
         "Softwarelizenz (jährlich)", 300, 6000, 1, 5),
        ("Cloud hosting (monthly)", "Cloudhosting (maand)",
         "Cloud-Hosting (monatlich)", 49, 2000, 1, 3),
        ("Consulting hours", "Adviesuren", "Beratungsstunden", 65, 150, 2, 40),
        ("Website redesign", "Herontwerp website", "Website-Relaunch", 900, 9000, 1, 1),
        ("Support contract Q3", "Supportcontract Q3", "Supportvertrag Q3",
         250, 3000, 1, 1),
    ],
    "food": [
        ("Lunch buffet per person", "Lunchbuffet p.p.", "Mittagsbuffet pro Person",
         12, 35, 10, 120),
        ("Coffee beans 1 kg", "Koffiebonen 1 kg", "Kaffeebohnen 1 kg", 14, 32, 5, 60),
        ("Fresh fish (kg)", "Verse vis (kg)", "Frischfisch (kg)", 9, 30, 10, 150),
        ("Gouda cheese (kg)", "Goudse kaas (kg)", "Gouda-Käse (kg)", 8, 22, 10, 200),
        ("Bread rolls (box of 50)", "Broodjes (doos à 50)", "Brötchen (Karton à 50)",
         12, 30, 2, 40),
        ("Delivery charge", "Bezorgkosten", "Liefergebühr", 5, 60, 1, 1),
    ],
    "print": [
        ("Flyers A5, 1000 pcs", "Flyers A5, 1000 st.", "Flyer A5, 1000 Stk.",
         60, 400, 1, 10),
        ("Business cards, 500 pcs", "Visitekaartjes, 500 st.",
         "Visitenkarten, 500 Stk.", 35, 120, 1, 8),
        ("Poster A1", "Poster A1", "Plakat A1", 9, 40, 5, 100),
        ("Design hours", "Ontwerpuren", "Gestaltung (Std.)", 60, 120, 2, 30),
    ],
    "tech": [
        ("Electrical installation work", "Elektra-installatiewerk",
         "Elektroinstallation", 300, 4000, 1, 1),
        ("Maintenance visit", "Onderhoudsbeurt", "Wartungseinsatz", 90, 600, 1, 4),
        ("Spare parts", "Onderdelen", "Ersatzteile", 15, 400, 1, 10),
        ("Labour hours", "Arbeidsuren", "Arbeitsstunden", 55, 95, 2, 40),
        ("Call-out charge", "Voorrijkosten", "Anfahrtspauschale", 35, 90, 1, 1),
    ],
    "build": [
        ("Timber beams 4 m", "Houten balken 4 m", "Holzbalken 4 m", 15, 70, 5, 80),
        ("Scaffolding rental (week)", "Steigerhuur (week)", "Gerüstmiete (Woche)",
         150, 900, 1, 6),
        ("Steel profiles HEA 200", "Stalen profielen HEA 200", "Stahlprofile HEA 200",
         40, 160, 2, 40),
        ("Cement 25 kg", "Cement 25 kg", "Zement 25 kg", 6, 14, 10, 200),
        ("Labour hours", "Arbeidsuren", "Arbeitsstunden", 45, 85, 4, 60),
    ],
    "clean": [
        ("Cleaning services", "Schoonmaakwerkzaamheden", "Reinigungsleistungen",
         200, 2500, 1, 2),
        ("Window cleaning", "Glasbewassing", "Glasreinigung", 80, 600, 1, 4),
        ("Cleaning supplies", "Schoonmaakmiddelen", "Reinigungsmittel", 20, 200, 1, 5),
    ],
    "office": [
        ("Office chair ErgoPlus", "Bureaustoel ErgoPlus", "Bürostuhl ErgoPlus",
         120, 450, 1, 12),
        ("Desk 160x80", "Bureau 160x80", "Schreibtisch 160x80", 180, 700, 1, 10),
        ("Copy paper A4 (box)", "Kopieerpapier A4 (doos)", "Kopierpapier A4 (Karton)",
         18, 35, 2, 30),
        ("Shipping and handling", "Verzendkosten", "Versandkosten", 5, 95, 1, 1),
    ],
    "lab": [
        ("Laboratory pipettes", "Laboratoriumpipetten", "Laborpipetten", 8, 60, 10, 200),
        ("Calibration service", "Kalibratie", "Kalibrierung", 120, 900, 1, 3),
        ("Precision parts", "Precisieonderdelen", "Präzisionsteile", 4, 90, 10, 500),
        ("Shipping and handling", "Verzendkosten", "Versandkosten", 5, 95, 1, 1),
    ],
    "consult": [
        ("Consulting hours", "Adviesuren", "Beratungsstunden", 80, 250, 2, 40),
        ("Annual accounts 2023", "Jaarrekening 2023", "Jahresabschluss 2023",
         800, 6000, 1, 1),
        ("Payroll administration (month)", "Salarisadministratie (maand)",
         "Lohnbuchhaltung (Monat)", 90, 800, 1, 3),
        ("Travel expenses", "Reiskosten", "Reisekosten", 20, 400, 1, 1),
    ],
    "pack": [
        ("Cardboard boxes (100 pcs)", "Kartonnen dozen (100 st.)",
         "Kartons (100 Stk.)", 40, 160, 1, 30),
        ("Stretch film rolls", "Rekfolie rollen", "Stretchfolie Rollen", 9, 25, 6, 120),
        ("Pallet packaging material", "Pallet verpakkingsmateriaal",
         "Palette Verpackungsmaterial", 80, 350, 1, 20),
    ],
    "green": [
        ("Garden maintenance", "Tuinonderhoud", "Gartenpflege", 150, 1500, 1, 2),
        ("Plants and shrubs", "Planten en heesters", "Pflanzen und Sträucher",
         5, 60, 10, 150),
        ("Cut flowers (box)", "Snijbloemen (doos)", "Schnittblumen (Karton)",
         20, 90, 2, 60),
    ],
    "bike": [
        ("Bicycle chains", "Fietskettingen", "Fahrradketten", 8, 35, 10, 200),
        ("Bicycle tyres 28 inch", "Fietsbanden 28 inch", "Fahrradreifen 28 Zoll",
         12, 45, 10, 100),
        ("Shipping and handling", "Verzendkosten", "Versandkosten", 5, 95, 1, 1),
    ],
    "tools": [
        ("Diamond saw blades", "Diamantzaagbladen", "Diamantsägeblätter",
         60, 400, 1, 20),
        ("Core drill bits", "Kernboren", "Kernbohrkronen", 45, 300, 1, 12),
        ("Shipping and handling", "Verzendkosten", "Versandkosten", 5, 95, 1, 1),
    ],
    "marine": [
        ("Marine engine service", "Onderhoud scheepsmotor", "Schiffsmotor-Wartung",
         500, 6000, 1, 1),
        ("Spare parts", "Onderdelen", "Ersatzteile", 15, 400, 1, 10),
        ("Labour hours", "Arbeidsuren", "Arbeitsstunden", 60, 110, 2, 40),
    ],
    "fair": [
        ("Exhibition stand build", "Standbouw beurs", "Messestandbau", 1500, 15000, 1, 1),
        ("Stand furniture rental", "Huur standmeubilair", "Miete Standmobiliar",
         40, 400, 1, 12),
        ("Travel expenses", "Reiskosten", "Reisekosten", 20, 400, 1, 1),
    ],
}

# Sector of each supplier, by keyword in its name (first match wins).
SECTOR_KEYWORDS = [
    ("freight", ["Logistiek", "Transport", "Spedition", "Freight", "Logistics",
                 "Havenservice", "Logistik"]),
    ("bike", ["Fiets"]),
    ("tools", ["Diamond"]),
    ("marine", ["Marine"]),
    ("fair", ["Messebau"]),
    ("it", ["ICT", "Software", "IT-Service", "Data", "Cloud", "Analytics",
            "Polderdata"]),
    ("print", ["Drukwerk", "Druckerei", "Drukkerij", "Print", "Papierwerke",
               "Design", "Media"]),
    ("clean", ["Schoonmaak", "reinigung", "Cleaning", "Facilities"]),
    ("lab", ["Labor", "Lab ", "Medizin", "Präzision", "Uhrenteile"]),
    ("consult", ["Steuerberatung", "Treuhand", "Consultancy", "LLP"]),
    ("pack", ["Verpakking", "Verpackung", "Packaging"]),
    ("green", ["Hoveniers", "Sierteelt", "Tuinbouw"]),
    ("office", ["Kantoor", "Büro", "Office"]),
    ("food", ["Catering", "Gastro", "Hotelbedarf", "Kaffee", "Bäckerei", "Vis",
              "Seafoods", "Zuivel", "Kaas", "Lebensmittel"]),
    ("build", ["Bouw", "Holz", "Timber", "Gerüst", "Metaal", "Metall", "Söhne"]),
    ("tech", ["Elektro", "Electrical", "Installatie", "Sanitär", "Kälte",
              "Koel", "Technik", "Maschinenbau", "Engineering"]),
]


def sector(name):
    for sec, words in SECTOR_KEYWORDS:
        if any(w in name for w in words):
            return sec
    return "tech"


MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December"],
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli",
           "augustus", "september", "oktober", "november", "december"],
    "nl_abbr": ["jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.",
                "sep.", "okt.", "nov.", "dec."],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli",
           "August", "September", "Oktober", "November", "Dezember"],
}

LABELS = {
    "en": dict(
        title=["INVOICE", "Invoice", "TAX INVOICE", "Sales Invoice"],
        no=["Invoice no.", "Invoice #", "Invoice number", "Inv. No.", "Invoice No"],
        date=["Invoice date", "Date", "Date of issue", "Issue date"],
        due=["Due date", "Payment due", "Due by", "Pay by"],
        delivery=["Delivery date", "Date of supply", "Service date"],
        billto=["Bill to", "Invoice to", "Customer", "Billed to", "Sold to"],
        supplier=["Supplier", "From", "Vendor", "Seller"],
        net=["Subtotal", "Net amount", "Total excl. VAT", "Net total", "Sub-total"],
        vat=["VAT {r}", "VAT ({r})", "VAT @ {r}", "Plus VAT {r}"],
        vat0=["VAT 0%", "VAT (0%)", "VAT"],
        total=["Total", "Amount due", "Total incl. VAT", "Balance due",
               "Total due", "Invoice total"],
        po=["PO number", "Your ref.", "Order no.", "Purchase order"],
        custno=["Customer no.", "Account no.", "Customer ID"],
        terms=["Payment terms: {d} days net.", "Terms: net {d}.",
               "Please pay within {d} days.",
               "Payment within {d} days of invoice date."],
        curr=["Currency: {c}", "All amounts in {c}.", "Amounts in {c}"],
        rc=["VAT reverse charged to the recipient.",
            "Reverse charge: VAT to be accounted for by the customer.",
            "Reverse charge, Art. 196 Directive 2006/112/EC."],
        export=["Export outside the EU, no VAT charged.",
                "Zero-rated export (no VAT)."],
        zero_uk=["Outside the scope of UK VAT.", "Zero-rated supply."],
        zero_us=["No VAT charged.", "Sales tax: not applicable (export)."],
        zero_ch=["Export, not subject to Swiss VAT."],
        custvat=["Customer VAT ID", "Your VAT no."],
        head=("Description", "Qty", "Unit price", "Amount"),
        at="@",
        page=["Page 1 of 1", "Page 1/1", "ORIGINAL"],
        thanks=["Thank you for your business.", "Thank you for your order!",
                "Many thanks."],
        attn="Attn.",
    ),
    "nl": dict(
        title=["FACTUUR", "Factuur"],
        no=["Factuurnummer", "Factuurnr.", "Factuur nr."],
        date=["Factuurdatum", "Datum", "Factuurdatum"],
        due=["Vervaldatum", "Betalen vóór", "Uiterste betaaldatum"],
        delivery=["Leverdatum", "Afleverdatum", "Uitvoeringsdatum"],
        billto=["Aan", "Factuuradres", "Klant", "Debiteur"],
        supplier=["Leverancier", "Van", "Afzender"],
        net=["Subtotaal", "Totaal excl. BTW", "Bedrag excl. btw", "Netto"],
        vat=["BTW {r}", "{r} btw", "Btw ({r})", "BTW {r}"],
        vat0=["BTW verlegd", "Btw 0% (verlegd)", "BTW 0%"],
        total=["Totaal", "Te betalen", "Totaal incl. BTW", "Totaalbedrag",
               "Factuurbedrag"],
        po=["Uw referentie", "Ordernummer", "Inkoopordernr.", "Uw kenmerk"],
        custno=["Klantnummer", "Debiteurnr.", "Klantnr."],
        terms=["Betalingstermijn: {d} dagen.", "Gelieve binnen {d} dagen te betalen.",
               "Betaling binnen {d} dagen na factuurdatum."],
        curr=["Valuta: {c}", "Alle bedragen in {c}."],
        rc=["Btw verlegd naar afnemer.", "BTW verlegd, art. 196 Btw-richtlijn.",
            "Verleggingsregeling van toepassing."],
        custvat=["Btw-nr. afnemer", "Uw btw-nummer"],
        head=("Omschrijving", "Aantal", "Prijs", "Bedrag"),
        at="à",
        page=["Pagina 1 van 1", "Blad 1/1"],
        thanks=["Bedankt voor uw opdracht.", "Dank voor uw bestelling!"],
        attn="T.a.v.",
    ),
    "de": dict(
        title=["RECHNUNG", "Rechnung"],
        no=["Rechnungsnummer", "Rechnungs-Nr.", "Rechnung Nr.", "Re.-Nr."],
        date=["Rechnungsdatum", "Datum", "Belegdatum"],
        due=["Fällig am", "Zahlbar bis", "Fälligkeitsdatum"],
        delivery=["Lieferdatum", "Leistungsdatum", "Leistungszeitraum bis"],
        billto=["An", "Rechnungsempfänger", "Kunde"],
        supplier=["Lieferant", "Von", "Rechnungssteller", "Absender"],
        net=["Zwischensumme", "Nettobetrag", "Summe netto", "Netto"],
        vat=["MwSt. {r}", "zzgl. {r} MwSt.", "USt. {r}", "Umsatzsteuer {r}",
             "{r} MwSt."],
        vat0=["USt. 0 %", "MwSt. 0 %", "Umsatzsteuer 0 %"],
        total=["Gesamtbetrag", "Rechnungsbetrag", "Zu zahlen", "Endbetrag",
               "Gesamt brutto"],
        po=["Ihre Bestellung", "Bestell-Nr.", "Ihr Zeichen", "Auftrags-Nr."],
        custno=["Kundennummer", "Kunden-Nr."],
        terms=["Zahlungsziel: {d} Tage netto.",
               "Zahlbar innerhalb von {d} Tagen ohne Abzug.",
               "Bitte zahlen Sie innerhalb von {d} Tagen."],
        curr=["Währung: {c}", "Alle Beträge in {c}."],
        rc=["Steuerschuldnerschaft des Leistungsempfängers.",
            "Reverse Charge: Die Umsatzsteuer schuldet der Leistungsempfänger.",
            "Innergemeinschaftliche Leistung, Reverse Charge."],
        zero_ch=["Export, von der MWST befreit.", "Ausfuhr: MWST-frei."],
        custvat=["USt-IdNr. Kunde", "Ihre USt-IdNr."],
        head=("Bezeichnung", "Menge", "Einzelpreis", "Betrag"),
        at="à",
        page=["Seite 1 von 1", "Seite 1/1"],
        thanks=["Vielen Dank für Ihren Auftrag.", "Wir danken für Ihre Bestellung."],
        attn="z. Hd.",
    ),
}

# Amount styles: (prefix, suffix, thousands separator, decimal separator).
# A style without prefix and suffix is "bare": the invoice then states the
# currency in words ("Currency: EUR", "Alle Beträge in EUR.").
STYLES = {
    ("en", "EUR"): [("€", "", ",", "."), ("€ ", "", ",", "."), ("EUR ", "", ",", "."),
                    ("", " EUR", ",", "."), ("", "", ",", "."), ("EUR ", "", ".", ","),
                    ("€ ", "", ".", ","), ("EUR ", "", "", ".")],
    ("en", "GBP"): [("£", "", ",", "."), ("GBP ", "", ",", "."), ("", "", ",", "."),
                    ("£ ", "", ",", ".")],
    ("en", "USD"): [("$", "", ",", "."), ("USD ", "", ",", "."), ("US$", "", ",", "."),
                    ("", " USD", ",", "."), ("", "", ",", ".")],
    ("en", "CHF"): [("CHF ", "", ",", "."), ("CHF ", "", "'", "."), ("", "", ",", ".")],
    ("nl", "EUR"): [("€ ", "", ".", ","), ("€", "", ".", ","), ("EUR ", "", ".", ","),
                    ("", "", ".", ","), ("", " EUR", ".", ","), ("€ ", "", "", ","),
                    ("", "", "", ",")],
    ("de", "EUR"): [("", " €", ".", ","), ("", " EUR", ".", ","), ("EUR ", "", ".", ","),
                    ("€ ", "", ".", ","), ("", "", ".", ","), ("", " €", "", ",")],
    ("de", "CHF"): [("CHF ", "", "'", "."), ("", " CHF", "'", "."), ("CHF ", "", "", "."),
                    ("Fr. ", "", "'", "."), ("", "", "'", ".")],
}

# VAT regimes per supplier country: (rate in basis points, kind, weight).
# Reduced ("low") rates only apply to the food and plants sectors.
REGIMES = {
    "NL": [(2100, "std", 7), (900, "low", 2), (0, "rc", 1)],
    "BE": [(2100, "std", 8), (600, "low", 1), (0, "rc", 1)],
    "DE": [(1900, "std", 7), (700, "low", 2), (0, "rc", 1)],
    "AT": [(2000, "std", 8), (1000, "low", 1), (0, "rc", 1)],
    "CH": [(810, "std", 8), (0, "zero_ch", 2)],
    "UK": [(2000, "std", 8), (0, "zero_uk", 2)],
    "IE": [(2300, "std", 8), (0, "rc", 2)],
    "US": [(0, "zero_us", 1)],
}
EU = ["NL", "BE", "DE", "AT", "IE"]

# Which supplier countries write invoices in which language (weights).
ORIGINS = {
    "nl": [("NL", 85), ("BE", 15)],
    "de": [("DE", 70), ("AT", 15), ("CH", 15)],
    "en": [("UK", 36), ("IE", 10), ("US", 9), ("NL", 20), ("DE", 17), ("CH", 4),
           ("AT", 2), ("BE", 2)],
}

# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def wchoice(rng, pairs):
    """Weighted choice from [(value, weight), ...]."""
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for value, w in pairs:
        x -= w
        if x < 0:
            return value
    return pairs[-1][0]


def digits(rng, n):
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def make_iban(cc, bban):
    s = bban + cc + "00"
    num = "".join(str(int(ch, 36)) for ch in s)
    return f"{cc}{98 - int(num) % 97:02d}{bban}"


def group4(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def fmt_num(cents, th, dec):
    whole, frac = divmod(cents, 100)
    s = f"{whole:,}".replace(",", th)
    return f"{s}{dec}{frac:02d}"


def fmt_date(d, lang, style):
    m = d.month - 1
    if lang == "en":
        return {
            "long_us": f"{MONTHS['en'][m]} {d.day}, {d.year}",
            "long": f"{d.day} {MONTHS['en'][m]} {d.year}",
            "abbr": f"{d.day} {MONTHS['en'][m][:3]} {d.year}",
            "slash": f"{d.day:02d}/{d.month:02d}/{d.year}",
            "iso": d.isoformat(),
            "dash_abbr": f"{d.day:02d}-{MONTHS['en'][m][:3]}-{d.year}",
            "ordinal": f"{d.day}{ordinal_suffix(d.day)} {MONTHS['en'][m]} {d.year}",
        }[style]
    if lang == "nl":
        return {
            "dash": f"{d.day:02d}-{d.month:02d}-{d.year}",
            "dash_short": f"{d.day}-{d.month}-{d.year}",
            "long": f"{d.day} {MONTHS['nl'][m]} {d.year}",
            "abbr": f"{d.day} {MONTHS['nl_abbr'][m]} {d.year}",
            "iso": d.isoformat(),
            "slash": f"{d.day:02d}/{d.month:02d}/{d.year}",
        }[style]
    return {
        "dot": f"{d.day:02d}.{d.month:02d}.{d.year}",
        "dot_short": f"{d.day}.{d.month}.{d.year}",
        "long": f"{d.day}. {MONTHS['de'][m]} {d.year}",
        "iso": d.isoformat(),
        "dot_yy": f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
    }[style]


def ordinal_suffix(n):
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


DATE_STYLES = {
    "en": [("long_us", 3), ("long", 3), ("abbr", 2), ("slash", 2), ("iso", 2),
           ("dash_abbr", 1), ("ordinal", 1)],
    "nl": [("dash", 4), ("dash_short", 1), ("long", 3), ("abbr", 1), ("iso", 1),
           ("slash", 1)],
    "de": [("dot", 5), ("dot_short", 1), ("long", 3), ("iso", 1), ("dot_yy", 1)],
}


def invoice_number(rng, lang, year):
    y, yy = year, year % 100
    styles = {
        "en": [(f"INV-{y}-{rng.randint(1, 9999):04d}", 4),
               (f"INV{rng.randint(1, 999999):06d}", 2),
               (f"SI-{rng.randint(1, 99999):06d}", 2),
               (f"{y}-{rng.randint(1, 9999):04d}", 2),
               (f"{rng.randint(10000, 999999)}", 2),
               (f"{yy:02d}{rng.randint(1, 9999):04d}", 1),
               (f"INV/{yy:02d}/{rng.randint(1, 999):03d}", 1)],
        "nl": [(f"F{y}/{rng.randint(1, 999):03d}", 3),
               (f"{y}.{rng.randint(1, 9999):04d}", 3),
               (f"FAC-{yy:02d}-{rng.randint(1, 9999):04d}", 2),
               (f"{y}{rng.randint(1, 9999):04d}", 2),
               (f"F-{y}-{rng.randint(1, 999)}", 1),
               (f"INV-{y}-{rng.randint(1, 9999):04d}", 1)],
        "de": [(f"RE-{rng.randint(10000, 99999)}", 3),
               (f"R{y}-{rng.randint(1, 99999):05d}", 2),
               (f"RG {y}/{rng.randint(1, 9999)}", 2),
               (f"{y}-{rng.randint(1, 9999):04d}", 2),
               (f"RE{yy:02d}{rng.randint(1, 99999):05d}", 1),
               (f"{rng.randint(100000, 999999)}", 1)],
    }
    return wchoice(rng, styles[lang])


# --------------------------------------------------------------------------
# Companies: fixed profiles (address, registration numbers, bank)
# --------------------------------------------------------------------------


def address(rng, country, lang, with_country=False):
    street = rng.choice(STREETS[country])
    no = rng.randint(1, 240)
    if country in ("UK", "IE", "US"):
        city, code = rng.choice(CITIES[country])
        if country == "US":
            s = f"{rng.randint(100, 9999)} {street}, {city}, {code}"
        elif country == "IE":
            s = f"{no} {street}, {city} {code}"
        else:
            s = f"{no} {street}, {city} {code}"
    else:
        city = rng.choice(CITIES[country])
        if country == "NL":
            letters = "ABCEGHJKLMNPRTVWXZ"
            code = f"{rng.randint(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}"
        elif country == "DE":
            code = f"{rng.randint(10000, 99999)}"
        elif country == "CH":
            code = f"CH-{rng.randint(1000, 9999)}"
        else:
            code = f"{rng.randint(1000, 9999)}"
        s = f"{street} {no}, {code} {city}"
    if with_country:
        s += ", " + COUNTRY_NAME[lang][country]
    return s


def company_profile(rng, name, country):
    p = {"name": name, "country": country}
    if country == "NL":
        bank = rng.choice(["ABNA", "INGB", "RABO", "TRIO", "KNAB", "BUNQ"])
        p["iban"] = make_iban("NL", bank + digits(rng, 10))
        p["bic"] = bank + "NL2A"
        p["kvk"] = digits(rng, 8)
        p["vatid"] = f"NL{digits(rng, 9)}B01"
    elif country == "BE":
        base = str(rng.randint(1, 9)) + digits(rng, 9)
        chk = int(base) % 97 or 97
        p["iban"] = make_iban("BE", f"{base}{chk:02d}")
        p["bic"] = rng.choice(["GEBABEBB", "KREDBEBB", "BBRUBEBB"])
        p["vatid"] = f"BE0{digits(rng, 3)}.{digits(rng, 3)}.{digits(rng, 3)}"
    elif country == "DE":
        p["iban"] = make_iban("DE", digits(rng, 18))
        p["bic"] = rng.choice(["COLSDE33", "DEUTDEFF", "COBADEFFXXX", "GENODEF1S04"])
        p["vatid"] = f"DE{digits(rng, 9)}"
        p["hrb"] = f"HRB {rng.randint(1000, 99999)}"
        p["taxno"] = f"{digits(rng, 3)}/{digits(rng, 3)}/{digits(rng, 5)}"
    elif country == "AT":
        p["iban"] = make_iban("AT", digits(rng, 16))
        p["bic"] = rng.choice(["BKAUATWW", "RZOOAT2L", "GIBAATWW"])
        p["vatid"] = f"ATU{digits(rng, 8)}"
        p["hrb"] = f"FN {rng.randint(10000, 599999)}{rng.choice('abdfkmpstw')}"
    elif country == "CH":
        p["iban"] = make_iban("CH", digits(rng, 17))
        p["bic"] = rng.choice(["UBSWCHZH80A", "ZKBKCHZZ80A", "POFICHBEXXX"])
        p["vatid"] = f"CHE-{digits(rng, 3)}.{digits(rng, 3)}.{digits(rng, 3)} MWST"
    elif country == "UK":
        bank = rng.choice(["BARC", "LOYD", "NWBK", "HBUK"])
        sort, acct = digits(rng, 6), digits(rng, 8)
        p["iban"] = make_iban("GB", bank + sort + acct)
        p["sort"] = f"{sort[:2]}-{sort[2:4]}-{sort[4:]}"
        p["acct"] = acct
        p["vatid"] = f"GB {digits(rng, 3)} {digits(rng, 4)} {digits(rng, 2)}"
        p["crn"] = digits(rng, 8)
    elif country == "IE":
        bank = rng.choice(["AIBK", "BOFI"])
        p["iban"] = make_iban("IE", bank + digits(rng, 14))
        p["bic"] = bank + "IE2D"
        p["vatid"] = f"IE{digits(rng, 7)}{rng.choice('ABCDEFHKLMPTW')}"
        p["crn"] = digits(rng, 6)
    elif country == "US":
        p["routing"] = digits(rng, 9)
        p["acct"] = digits(rng, 10)
        p["ein"] = f"{digits(rng, 2)}-{digits(rng, 7)}"
    p["addr_seed"] = rng.randint(0, 10 ** 9)
    return p


def build_companies():
    rng = random.Random(SEED + 1)
    suppliers = {cc: [company_profile(rng, n, cc) for n in names]
                 for cc, names in SUPPLIERS.items()}
    customers = {cc: [company_profile(rng, n, cc) for n in names]
                 for cc, names in CUSTOMERS.items()}
    return suppliers, customers


def split_suppliers(suppliers):
    """Hold out ~20% of each country's suppliers for the test split."""
    rng = random.Random(SEED + 2)
    train, test = {}, {}
    for cc, profiles in suppliers.items():
        order = list(profiles)
        rng.shuffle(order)
        k = max(1, round(len(order) * HOLDOUT_FRACTION))
        test[cc], train[cc] = order[:k], order[k:]
    return train, test


def company_address(p, lang, with_country=False):
    # Same company -> same street address on every invoice.
    return address(random.Random(p["addr_seed"]), p["country"], lang, with_country)


def supplier_ids(rng, p, lang):
    """Registration / VAT numbers in the invoice language (distractors)."""
    cc, out = p["country"], []
    if cc == "NL":
        out.append(rng.choice({"nl": ["KvK {}", "KvK-nr. {}", "KvK {}"],
                               "en": ["Chamber of Commerce {}", "CoC {}", "KvK {}"],
                               "de": ["KvK {}"]}[lang]).format(p["kvk"]))
        out.append(rng.choice({"nl": ["BTW {}", "Btw-nr. {}", "BTW-id {}"],
                               "en": ["VAT {}", "VAT no. {}"],
                               "de": ["USt-IdNr. {}"]}[lang]).format(p["vatid"]))
    elif cc == "BE":
        out.append(rng.choice({"nl": ["BTW {}", "Ondernemingsnr. {}"],
                               "en": ["VAT {}", "Company no. {}"],
                               "de": ["USt-IdNr. {}"]}[lang]).format(p["vatid"]))
    elif cc in ("DE", "AT"):
        vat_label = {"de": ["USt-IdNr. {}", "UID {}", "USt-ID: {}"],
                     "en": ["VAT ID {}", "VAT no. {}"],
                     "nl": ["BTW-nr. {}"]}[lang]
        out.append(rng.choice(vat_label).format(p["vatid"]))
        if cc == "DE" and lang == "de" and rng.random() < 0.5:
            out.append(f"Steuernr. {p['taxno']}")
        reg = p["hrb"]
        if lang == "de" and cc == "DE":
            reg += f", Amtsgericht {rng.choice(CITIES['DE'])}"
        out.append(reg)
    elif cc == "CH":
        out.append({"de": "MWST-Nr. ", "en": "VAT no. ", "nl": "BTW-nr. "}[lang]
                   + p["vatid"])
    elif cc == "UK":
        out.append(f"VAT Reg No. {p['vatid']}")
        out.append(rng.choice(["Company No. {}", "Registered in England and Wales No. {}",
                               "Reg. no. {}"]).format(p["crn"]))
    elif cc == "IE":
        out.append(f"VAT No. {p['vatid']}")
        out.append(f"CRO {p['crn']}")
    elif cc == "US":
        out.append(f"EIN {p['ein']}")
    rng.shuffle(out)
    return out[:rng.randint(1, len(out))]


def supplier_bank(rng, p, lang):
    cc = p["country"]
    if cc == "US":
        return f"ACH routing {p['routing']}, account {p['acct']}"
    if cc == "UK" and rng.random() < 0.5:
        return f"Sort code {p['sort']}, Acc {p['acct']}"
    iban = group4(p["iban"]) if rng.random() < 0.7 else p["iban"]
    s = f"IBAN {iban}"
    if "bic" in p and rng.random() < 0.4:
        s += f" BIC {p['bic']}"
    if lang == "nl" and rng.random() < 0.3:
        s += f" t.n.v. {p['name']}"
    if lang == "de" and rng.random() < 0.3:
        s = "Bankverbindung: " + s
    return s


# --------------------------------------------------------------------------
# One invoice: the facts, then the wording
# --------------------------------------------------------------------------


class Inv:
    """Everything one invoice needs, already formatted for its language."""

    def __init__(self, rng, lang, sup, customers):
        self.rng, self.lang = rng, lang
        L = self.L = LABELS[lang]
        self.sup = sup["name"]
        cc = sup["country"]

        # Currency and VAT regime.
        currency = {"UK": "GBP", "US": "USD", "CH": "CHF"}.get(cc, "EUR")
        low_ok = sector(self.sup) in ("food", "green")
        rate, kind = wchoice(rng, [((r, k), w * 2 if k == "low" else w)
                                   for r, k, w in REGIMES[cc]
                                   if k != "low" or low_ok])
        if lang == "en" and cc in EU and rng.random() < 0.08:
            currency, rate, kind = "USD", 0, "export"
        if cc == "UK" and rng.random() < 0.08:
            currency, rate, kind = "EUR", 0, "zero_uk"
        self.currency, self.rate, self.kind = currency, rate, kind

        # Customer: domestic for normal VAT, foreign for reverse charge/export.
        if kind == "rc":
            ccust = rng.choice([c for c in EU if c != cc])
        elif kind == "export":
            ccust = rng.choice(["US", "UK", "CH"])
        elif kind in ("zero_uk", "zero_ch"):
            ccust = rng.choice(["NL", "DE", "IE", "BE"])
        elif kind == "zero_us":
            ccust = rng.choice(["NL", "DE", "UK", "IE"])
        else:
            ccust = cc
        cust = rng.choice(customers[ccust])
        self.cust = cust["name"]
        self.cust_addr = company_address(cust, lang, with_country=ccust != cc)
        self.cust_vatid = cust.get("vatid") if kind == "rc" else None

        self.sup_addr = company_address(sup, lang, with_country=rng.random() < 0.3)
        self.ids = supplier_ids(rng, sup, lang)
        self.bank = supplier_bank(rng, sup, lang)

        # Dates.
        d0 = dt.date(2023, 1, 1)
        self.d = d0 + dt.timedelta(days=rng.randint(0, 1095))
        self.terms_days = rng.choice([8, 14, 14, 21, 30, 30, 30, 45, 60])
        dstyle = wchoice(rng, DATE_STYLES[lang])
        self.date = fmt_date(self.d, lang, dstyle)
        self.due = fmt_date(self.d + dt.timedelta(days=self.terms_days), lang, dstyle)
        self.delivery = fmt_date(self.d - dt.timedelta(days=rng.randint(1, 20)),
                                 lang, dstyle)
        self.no = invoice_number(rng, lang, self.d.year)

        # Other reference numbers (distractors).
        self.po = wchoice(rng, [(f"45{digits(rng, 8)}", 2),
                                (f"PO-{rng.randint(10000, 99999)}", 2),
                                (f"{rng.choice(['PRJ', 'ORD', 'BST'])}-"
                                 f"{rng.randint(100, 9999)}", 1)])
        self.custno = wchoice(rng, [(str(rng.randint(10000, 99999)), 2),
                                    (f"K{rng.randint(1000, 99999)}", 1),
                                    (f"C-{rng.randint(100, 9999)}", 1)])
        self.person = rng.choice(PEOPLE[lang])

        # Amounts, in integer cents (VAT rounded half up per invoice).
        fx = {"EUR": 1.0, "USD": 1.1, "GBP": 0.85, "CHF": 0.95}[currency]
        self.items = []
        n_items = wchoice(rng, [(1, 3), (2, 2)])
        for spec in rng.sample(ITEMS[sector(self.sup)], n_items):
            en, nl, de, lo, hi, qlo, qhi = spec
            qty = rng.randint(qlo, qhi)
            unit = int(round(rng.uniform(lo, hi) * fx * 100))
            unit = wchoice(rng, [(unit // 100 * 100, 3), (unit // 50 * 50, 1),
                                 (unit // 100 * 100 + 95, 1), (unit, 2)])
            unit = max(unit, 100)
            desc = {"en": en, "nl": nl, "de": de}[lang]
            self.items.append((desc, qty, unit, qty * unit))
        self.net_c = sum(it[3] for it in self.items)
        self.vat_c = (self.net_c * rate + 5000) // 10000
        self.total_c = self.net_c + self.vat_c

        # Number formatting.
        pre, suf, th, dec = rng.choice(STYLES[(lang, currency)])
        self.fmt = (pre, suf, th, dec)
        self.bare = not pre and not suf
        self.items_bare = self.bare or rng.random() < 0.5
        self.net_s = self.money(self.net_c)
        self.vat_s = self.money(self.vat_c)
        self.total_s = self.money(self.total_c)

        # Rate and VAT wording.
        if lang == "en":
            r = f"{rate / 100:g}%"
        elif lang == "nl":
            r = f"{rate // 100}%"
        else:
            r = f"{rate / 100:g}".replace(".", ",") + rng.choice([" %", "%"])
            if cc == "CH" and rng.random() < 0.5:
                r = f"{rate / 100:g}%"
        self.rate_s = r
        if rate == 0:
            self.vat_label = rng.choice(L["vat0"])
            if cc == "CH" and lang == "de":
                self.vat_label = rng.choice(["MWST 0 %", "MWST 0%"])
        else:
            vat_label = rng.choice(L["vat"]).format(r=r)
            if cc == "CH" and lang == "de":
                vat_label = rng.choice(["MWST {r}", "MwSt. {r}", "zzgl. MWST {r}"]).format(r=r)
            if cc == "AT" and lang == "de":
                vat_label = rng.choice(["USt. {r}", "{r} USt.", "MwSt. {r}"]).format(r=r)
            self.vat_label = vat_label
        self.note = None
        if kind not in ("std", "low"):
            self.note = rng.choice(L[kind])
            if kind == "rc" and self.cust_vatid and rng.random() < 0.6:
                self.note += f" {rng.choice(L['custvat'])}: {self.cust_vatid}"
        self.cur_note = rng.choice(L["curr"]).format(c=currency) if self.bare else None

        self.net_label = rng.choice(L["net"])
        self.total_label = rng.choice(L["total"])
        self.sep = rng.choice([": ", ": ", "  ", " "])
        self.item_style = rng.choice(["x", "cols", "simple", "dash"])

    # -- formatting helpers -------------------------------------------------
    def money(self, cents, bare=False):
        pre, suf, th, dec = self.fmt
        s = fmt_num(cents, th, dec)
        return s if bare else f"{pre}{s}{suf}"

    def p(self, prob):
        return self.rng.random() < prob

    def pick(self, key):
        return self.rng.choice(self.L[key])

    def kv(self, label, value):
        return f"{label}{self.sep}{value}"

    def item_lines(self, style=None, limit=None):
        style = style or self.item_style
        out = []
        for desc, qty, unit, amt in self.items[:limit]:
            u = self.money(unit, self.items_bare)
            a = self.money(amt, self.items_bare)
            if style == "x":
                out.append(f"{qty} x {desc} {self.L['at']} {u} = {a}")
            elif style == "cols":
                out.append(f"{desc}  {qty}  {u}  {a}")
            elif style == "pipe":
                out.append(f"{desc} | {qty} | {u} | {a}")
            elif style == "simple":
                out.append(f"{qty}x {desc}: {a}" if qty > 1 else f"{desc}: {a}")
            else:
                out.append(f"- {desc} ({qty} x {u}) {a}")
        return out

    def totals(self, with_net=True):
        lines = []
        if with_net:
            lines.append(self.kv(self.net_label, self.net_s))
        lines.append(self.kv(self.vat_label, self.vat_s))
        lines.append(self.kv(self.total_label, self.total_s))
        return lines

    def extras(self):
        """Optional one-line distractors, shuffled."""
        out = []
        if self.p(0.4):
            out.append(self.kv(self.pick("due"), self.due))
        if self.p(0.25):
            out.append(self.kv(self.pick("po"), self.po))
        if self.p(0.25):
            out.append(self.kv(self.pick("custno"), self.custno))
        if self.p(0.15):
            out.append(self.kv(self.pick("delivery"), self.delivery))
        self.rng.shuffle(out)
        return out

    def money_notes(self):
        return [x for x in (self.note, self.cur_note) if x]


# --------------------------------------------------------------------------
# Layouts (each used for all three languages, wording comes from LABELS and
# from the per-language prose in `email` and `compact`).
# --------------------------------------------------------------------------


def lay_letterhead(c):
    lines = [c.sup]
    if c.p(0.7):
        lines.append(c.sup_addr)
    lines.append(c.pick("title"))
    head = [c.kv(c.pick("no"), c.no), c.kv(c.pick("date"), c.date)]
    if c.p(0.5):
        lines.append("   ".join(head))
    else:
        lines += head
    if c.p(0.8):
        cust = c.cust + (", " + c.cust_addr if c.p(0.5) else "")
        lines.append(c.kv(c.pick("billto"), cust))
    lines += c.extras()
    lines += c.item_lines()
    lines += c.totals()
    lines += c.money_notes()
    if c.p(0.5):
        lines.append(c.bank)
    return lines


def lay_twocol(c):
    """Two-column PDF header whose columns got merged line by line."""
    gap = c.rng.choice(["   ", "    ", "  "])
    lines = [f"{c.sup}{gap}{c.pick('title')}",
             f"{c.sup_addr}{gap}{c.kv(c.pick('no'), c.no)}",
             f"{c.cust}{gap}{c.kv(c.pick('date'), c.date)}"]
    if c.p(0.5):
        lines.append(f"{c.cust_addr}{gap}{c.kv(c.pick('due'), c.due)}")
    lines += c.item_lines()
    lines += c.totals()
    lines += c.money_notes()
    if c.p(0.5):
        lines.append(" | ".join(c.ids))
    return lines


def lay_email(c):
    lang, r = c.lang, c.rng
    iban = c.bank if c.p(0.6) else None
    if c.rate:
        vat_en = f"VAT {c.rate_s} {c.vat_s}"
        vat_nl = f"btw {c.rate_s} {c.vat_s}"
        vat_de = f"zzgl. {c.rate_s} MwSt. {c.vat_s}"
    else:
        vat_en = f"VAT {c.vat_s}"
        vat_nl = f"btw {c.vat_s}"
        vat_de = f"USt. {c.vat_s}"
    desc = " / ".join(it[0] for it in c.items)
    if lang != "de":
        desc = desc[0].lower() + desc[1:]
    notes = " ".join(c.money_notes())
    if lang == "en":
        subj = r.choice([f"Subject: Invoice {c.no} from {c.sup}",
                         f"Subject: Invoice {c.no}", f"Re: {c.po} - invoice {c.no}"])
        greet = r.choice(["Dear Sir or Madam,", "Dear accounts payable team,",
                          "Hello,"])
        body = r.choice([
            f"Please find attached our invoice {c.no} dated {c.date} for {desc}. "
            f"Net {c.net_s}, {vat_en}, total amount due {c.total_s}, payable by {c.due}.",
            f"Attached is invoice {c.no} of {c.date} for {c.cust}: {desc}, "
            f"{c.total_s} including {vat_en} (net {c.net_s}). Due date: {c.due}.",
        ])
        close = r.choice(["Kind regards,", "Best regards,", "Thanks,"])
        sign = [c.person, c.sup]
    elif lang == "nl":
        subj = r.choice([f"Onderwerp: Factuur {c.no} - {c.sup}",
                         f"Onderwerp: factuur {c.no}"])
        greet = r.choice(["Geachte heer/mevrouw,", "Beste crediteurenadministratie,",
                          "Goedemiddag,"])
        body = r.choice([
            f"Hierbij ontvangt u factuur {c.no} van {c.date} voor {desc}. "
            f"Bedrag excl. btw {c.net_s}, {vat_nl}, totaal te betalen {c.total_s}. "
            f"Graag voldoen vóór {c.due}.",
            f"In de bijlage vindt u onze factuur {c.no} d.d. {c.date} ter hoogte van "
            f"{c.total_s} (waarvan {vat_nl}, netto {c.net_s}) voor {c.cust}.",
        ])
        close = r.choice(["Met vriendelijke groet,", "Met vriendelijke groeten,"])
        sign = [c.person, c.sup]
    else:
        subj = r.choice([f"Betreff: Rechnung {c.no}",
                         f"Betreff: Ihre Rechnung {c.no} - {c.sup}"])
        greet = r.choice(["Sehr geehrte Damen und Herren,", "Guten Tag,"])
        body = r.choice([
            f"anbei erhalten Sie unsere Rechnung Nr. {c.no} vom {c.date} über "
            f"{c.total_s} (netto {c.net_s}, {vat_de}). Bitte überweisen Sie den "
            f"Betrag bis zum {c.due}.",
            f"im Anhang finden Sie die Rechnung {c.no} vom {c.date} für {desc}. "
            f"Nettobetrag {c.net_s}, {vat_de}, Gesamtbetrag {c.total_s}.",
        ])
        close = r.choice(["Mit freundlichen Grüßen", "Viele Grüße"])
        sign = [c.person, c.sup]
    lines = [subj, greet, body + (" " + notes if notes else "")]
    if iban:
        lines.append(iban)
    lines.append(close)
    lines += sign
    return lines


def lay_flat(c):
    """Everything on one or two lines, as text extracted from a PDF."""
    parts = [c.kv(c.pick("no"), c.no), c.kv(c.pick("date"), c.date)]
    if c.p(0.6):
        parts.append(c.kv(c.pick("billto"), c.cust))
    parts += c.extras()[:1]
    c.rng.shuffle(parts)
    parts = [c.sup, c.pick("title")] + parts
    parts += c.item_lines(limit=1)
    parts += c.totals(with_net=c.p(0.8))
    parts += c.money_notes()
    if c.p(0.4):
        parts.append(c.bank)
    joiner = c.rng.choice([" | ", "  ", " "])
    if c.p(0.5):
        return [joiner.join(parts)]
    cut = len(parts) // 2
    return [joiner.join(parts[:cut]), joiner.join(parts[cut:])]


def lay_table(c):
    L = c.L
    lines = [f"{c.sup} | {c.pick('title')} {c.no}" if c.p(0.5)
             else f"{c.pick('title')} {c.no} | {c.sup}"]
    meta = [c.kv(c.pick("date"), c.date)]
    if c.p(0.7):
        meta.append(c.kv(c.pick("billto"), c.cust))
    if c.p(0.4):
        meta.append(c.kv(c.pick("due"), c.due))
    lines.append("  ".join(meta))
    h = L["head"]
    if c.bare:
        h = (h[0], h[1], h[2], f"{h[3]} ({c.currency})")
    lines.append(" | ".join(h))
    lines += c.item_lines(style="pipe")
    lines += c.totals()
    lines += [x for x in (c.note,) if x]
    if c.bare and c.p(0.5):
        lines.append(c.cur_note)
    return lines


def lay_kv(c):
    pairs = [c.kv(c.pick("supplier"), c.sup),
             c.kv(c.pick("billto"), c.cust),
             c.kv(c.pick("no"), c.no),
             c.kv(c.pick("date"), c.date)]
    head, tail = pairs[:2], pairs[2:]
    if c.p(0.5):
        head.reverse()
    c.rng.shuffle(tail)
    lines = head + tail + c.extras()
    if c.p(0.5):
        lines += c.item_lines()
    lines += c.totals()
    lines += c.money_notes()
    return lines


def lay_compact(c):
    lang = c.lang
    dash = c.rng.choice([" - ", " – ", ", "])
    title = c.pick("title")
    first = f"{c.sup}{dash}{title} {c.no}{dash}{c.date}"
    if c.p(0.3):
        first = f"{title} {c.no} ({c.date}){dash}{c.sup}"
    lines = [first]
    lines += c.item_lines(limit=1)
    if lang == "en":
        sums = f"{c.net_s} + {c.vat_label} {c.vat_s} = {c.total_label} {c.total_s}"
    elif lang == "nl":
        sums = (f"{c.net_label} {c.net_s} + {c.vat_label} {c.vat_s} = "
                f"{c.total_label} {c.total_s}")
    else:
        sums = f"{c.net_label} {c.net_s}, {c.vat_label} {c.vat_s}, {c.total_label} {c.total_s}"
    lines.append(sums)
    lines += c.money_notes()
    more = []
    if c.p(0.6):
        more.append(c.kv(c.pick("billto"), c.cust))
    if c.p(0.5):
        more.append(c.pick("terms").format(d=c.terms_days))
    if c.p(0.5):
        more.append(c.bank)
    c.rng.shuffle(more)
    return lines + more


def lay_footer(c):
    """Customer block first, supplier only in the footer."""
    lines = []
    if c.p(0.4):
        lines.append(c.pick("page"))
    lines.append(c.cust)
    if c.p(0.4):
        lines.append(f"{c.L['attn']} {c.person}")
    if c.p(0.5):
        lines.append(c.cust_addr)
    lines.append(c.pick("title"))
    lines.append(c.kv(c.pick("no"), c.no))
    lines.append(c.kv(c.pick("date"), c.date))
    lines += c.extras()
    lines += c.item_lines()
    lines += c.totals()
    lines += c.money_notes()
    if c.p(0.5):
        lines.append(c.pick("terms").format(d=c.terms_days))
    foot = [c.sup]
    if c.p(0.5):
        foot.append(c.sup_addr)
    foot += c.ids[:1]
    if c.p(0.5):
        foot.append(c.bank)
    lines.append(c.rng.choice([" | ", " · ", " - "]).join(foot))
    return lines


LAYOUTS = [lay_letterhead, lay_twocol, lay_email, lay_flat, lay_table, lay_kv,
           lay_compact, lay_footer]


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------


def answer_json(c):
    ans = {
        "supplier": c.sup,
        "invoice_number": c.no,
        "date": c.d.isoformat(),
        "currency": c.currency,
        "total": round(c.total_c / 100, 2),
        "vat": round(c.vat_c / 100, 2),
    }
    return json.dumps(ans, ensure_ascii=False, separators=(", ", ": "))


def check_invoice(c, text):
    """Every answer field must be recoverable from the text."""
    assert c.sup in text, (c.sup, text)
    assert c.no in text, (c.no, text)
    assert c.date in text, (c.date, text)
    assert c.total_s in text, (c.total_s, text)
    assert c.vat_s in text or c.rate == 0, (c.vat_s, text)
    if c.bare:
        assert c.currency in text, text
    assert c.total_c == c.net_c + c.vat_c


def make_record(rng, lang, suppliers, customers, seen):
    origin = wchoice(rng, ORIGINS[lang])
    for _ in range(200):
        sup = rng.choice(suppliers[origin])
        c = Inv(rng, lang, sup, customers)
        layout = rng.choice(LAYOUTS)
        lines = [ln.rstrip() for ln in layout(c) if ln and ln.strip()]
        text = "\n".join(lines)
        words = len(text.split())
        if not MIN_WORDS <= words <= MAX_WORDS or text in seen:
            continue
        check_invoice(c, text)
        seen.add(text)
        rec = {"messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer_json(c)},
        ]}
        meta = {"lang": lang, "layout": layout.__name__[4:], "supplier": c.sup,
                "net_cents": c.net_c, "vat_cents": c.vat_c,
                "total_cents": c.total_c, "words": words}
        return rec, meta
    raise RuntimeError("could not generate an invoice within the word limits")


def lang_plan(n, rng):
    counts = [(lang, round(n * share)) for lang, share in LANG_SHARE]
    counts[0] = (counts[0][0], n - sum(k for _, k in counts[1:]))
    plan = [lang for lang, k in counts for _ in range(k)]
    rng.shuffle(plan)
    return plan


def generate():
    """Return {"train": [(record, meta), ...], "test": [...]}."""
    suppliers, customers = build_companies()
    train_sup, test_sup = split_suppliers(suppliers)
    seen = set()
    out = {}
    for split, n, pool, seed in (("train", N_TRAIN, train_sup, SEED + 10),
                                 ("test", N_TEST, test_sup, SEED + 20)):
        rng = random.Random(seed)
        out[split] = [make_record(rng, lang, pool, customers, seen)
                      for lang in lang_plan(n, rng)]
    return out


def main():
    data = generate()
    for split, rows in data.items():
        path = os.path.join(HERE, f"{split}.jsonl")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for rec, _ in rows:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        print(f"wrote {len(rows)} examples to {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
