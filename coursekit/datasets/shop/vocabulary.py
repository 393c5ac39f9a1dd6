"""What shop items are made of: categories, brands, price bands, attribute words and their wordings.

Every item has one category, one brand, one price band and :data:`N_WORDS_PER_ITEM` attribute
words; :func:`attribute_names` lists the :data:`N_ATTRIBUTES` binary attributes in the column
order of the attribute vectors :math:`x_i` and the tastes :math:`\theta_u`. The surface forms
(:data:`WORD_FORMS`, :data:`BAND_FORMS`, :data:`NOUN_FORMS`, :data:`CATEGORY_FORMS`) and
:data:`FILLERS` are what product copy and reviews are written with
(:mod:`coursekit.datasets.shop.catalogue`).

>>> N_ATTRIBUTES == N_CATEGORIES + N_BRANDS + N_PRICE_BANDS + N_WORDS
True
"""
from __future__ import annotations

__all__ = ["CATEGORIES", "BRANDS", "PRICE_BANDS", "WORDS", "LINE_NAMES", "N_WORDS_PER_ITEM", "EVENT_TYPES",
           "WORD_FORMS", "BAND_FORMS", "NOUN_FORMS", "CATEGORY_FORMS", "FILLERS", "attribute_names",
           "N_CATEGORIES", "N_BRANDS", "N_PRICE_BANDS", "N_WORDS", "BRAND_OFFSET", "BAND_OFFSET", "WORD_OFFSET",
           "N_ATTRIBUTES"]

CATEGORIES: dict[str, tuple[str, ...]] = {
    "outerwear": ("jacket", "parka", "raincoat", "vest"),
    "footwear": ("hiking boot", "sneaker", "sandal", "loafer"),
    "travel": ("backpack", "duffel bag", "suitcase", "tote bag"),
    "kitchen": ("kettle", "skillet", "mug", "knife set"),
    "electronics": ("headset", "speaker", "charger", "desk lamp"),
    "home": ("blanket", "cushion", "vase", "candle"),
    "beauty": ("face cream", "shampoo", "lip balm", "soap bar"),
    "sports": ("yoga mat", "water bottle", "tennis racket", "jump rope"),
}
BRANDS: tuple[str, ...] = (
    "Northpeak", "Lumen", "Bramblewood", "Solstice", "Harborline", "Kestrel", "Oakhollow",
    "Tidewater", "Ironbark", "Velora", "Pinecrest", "Mistral", "Copperfield", "Halcyon",
    "Redfern", "Nimbus", "Bluestem", "Granite Row", "Wildmere", "Saltmarsh",
)
PRICE_BANDS: tuple[str, ...] = ("budget", "mid", "premium")
WORDS: tuple[str, ...] = (
    "waterproof", "vintage", "organic", "lightweight", "durable", "handmade", "recycled",
    "minimalist", "ergonomic", "wireless", "compact", "insulated", "breathable", "classic",
    "modern", "rustic", "portable", "foldable", "leather", "cotton", "wool", "bamboo",
    "stainless", "ceramic", "cozy", "sleek", "rugged", "colorful", "quiet", "quick-drying",
    "soft", "sturdy", "stretchy", "scented", "unscented", "rechargeable", "adjustable",
    "eco-friendly", "retro", "slim",
)
LINE_NAMES: tuple[str, ...] = (
    "Aurora", "Summit", "Breeze", "Atlas", "Ember", "Drift", "Nova", "Juniper", "Cascade",
    "Meridian", "Willow", "Falcon", "Harbor", "Sierra", "Lark", "Boreal", "Zephyr", "Maple",
    "Orbit", "Quartz", "Sable", "Tundra", "Echo", "Canyon", "Fjord", "Luna", "Cedar",
    "Pioneer", "Ridge", "Wren",
)
N_WORDS_PER_ITEM = 3
EVENT_TYPES: tuple[str, ...] = ("view", "click", "purchase")

# ------------------------------------------------------------------ surface forms of the copy
#: Adjective forms (used inside a phrase: "a waterproof jacket") and sentence forms of every
#: attribute word. Descriptions and reviews draw among them, so the same attribute is written
#: in several ways and word overlap alone does not recover it.
WORD_FORMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "waterproof": (("waterproof", "water-resistant", "rainproof", "weatherproof"),
                   ("Keeps the rain out.", "Shrugs off a downpour.", "Stays dry in wet weather.")),
    "vintage": (("vintage", "vintage-style", "old-school", "heritage"),
                ("Inspired by designs from decades past.", "Looks like a flea-market find.")),
    "organic": (("organic", "certified organic", "natural"),
                ("Made from organically grown materials.", "No synthetic pesticides went into it.")),
    "lightweight": (("lightweight", "featherlight", "light"),
                    ("You will barely notice the weight.", "Weighs next to nothing.")),
    "durable": (("durable", "long-lasting", "hard-wearing", "built-to-last"),
                ("Built to last for years.", "Made to take a beating.")),
    "handmade": (("handmade", "hand-crafted", "artisan-made"),
                 ("Each one is made by hand.", "Crafted by hand in a small workshop.")),
    "recycled": (("recycled", "upcycled", "second-life"),
                 ("Made from recycled materials.", "Gives post-consumer plastic a second life.")),
    "minimalist": (("minimalist", "minimal", "pared-back", "clean-lined"),
                   ("Nothing you do not need.", "A clean, uncluttered design.")),
    "ergonomic": (("ergonomic", "comfort-shaped", "body-friendly"),
                  ("Shaped to fit the body.", "Designed to reduce strain.")),
    "wireless": (("wireless", "cordless", "cable-free", "Bluetooth"),
                 ("No cables to get tangled.", "Connects without a cord.")),
    "compact": (("compact", "space-saving", "small"),
                ("Fits in the smallest of spaces.", "Takes up little room.")),
    "insulated": (("insulated", "thermal", "heat-retaining"),
                  ("Keeps the warmth in.", "Holds the temperature for hours.")),
    "breathable": (("breathable", "airy", "ventilated"),
                   ("Lets air flow through.", "Stays fresh and never stuffy.")),
    "classic": (("classic", "timeless", "traditional"),
                ("A design that never goes out of style.", "A shape that has stood the test of time.")),
    "modern": (("modern", "contemporary", "up-to-date"),
               ("Fresh, current styling.", "A look for today.")),
    "rustic": (("rustic", "farmhouse-style", "country-style"),
               ("Has a warm, countryside feel.", "Brings a cabin feel to any room.")),
    "portable": (("portable", "travel-ready", "on-the-go"),
                 ("Easy to take anywhere.", "Goes wherever you go.")),
    "foldable": (("foldable", "collapsible", "fold-flat"),
                 ("Folds flat for storage.", "Collapses down when not in use.")),
    "leather": (("leather", "full-grain leather", "genuine leather"),
                ("Made of real leather.", "Crafted from genuine hide.")),
    "cotton": (("cotton", "pure cotton", "cotton-blend"),
               ("Made with soft cotton.", "Cotton through and through.")),
    "wool": (("wool", "merino", "woollen"),
             ("Knitted from wool.", "Merino fibres keep the chill away.")),
    "bamboo": (("bamboo", "bamboo-fibre"),
               ("Made from fast-growing bamboo.", "Bamboo fibre throughout.")),
    "stainless": (("stainless", "stainless-steel", "rust-proof"),
                  ("Stainless steel that will not rust.", "Rust is never an issue.")),
    "ceramic": (("ceramic", "stoneware", "porcelain"),
                ("Fired ceramic finish.", "Made of glazed stoneware.")),
    "cozy": (("cozy", "snug", "comfy"),
             ("Perfect for curling up.", "Feels like a warm hug.")),
    "sleek": (("sleek", "streamlined", "slick"),
              ("Smooth, elegant lines.", "Looks sharp on any shelf.")),
    "rugged": (("rugged", "tough", "heavy-duty"),
               ("Ready for rough terrain.", "Handles the toughest conditions.")),
    "colorful": (("colorful", "vibrant", "bright", "multicolored"),
                 ("Comes in bold, cheerful colours.", "Adds a splash of colour.")),
    "quiet": (("quiet", "silent", "whisper-quiet", "low-noise"),
              ("You will hardly hear it.", "Runs almost silently.")),
    "quick-drying": (("quick-drying", "fast-drying", "quick-dry"),
                     ("Dries in no time.", "Dry again within the hour.")),
    "soft": (("soft", "plush", "velvety"),
             ("Soft to the touch.", "Gentle on the skin.")),
    "sturdy": (("sturdy", "solid", "robust", "stable"),
               ("Solidly put together.", "Will not wobble or bend.")),
    "stretchy": (("stretchy", "flexible", "elastic"),
                 ("Stretches with you.", "Gives where you need it.")),
    "scented": (("scented", "fragranced", "perfumed"),
                ("Carries a gentle fragrance.", "Leaves a pleasant scent behind.")),
    "unscented": (("unscented", "fragrance-free", "scent-free"),
                  ("No added fragrance.", "Free of perfumes.")),
    "rechargeable": (("rechargeable", "USB-rechargeable", "battery-powered"),
                     ("Charges over USB.", "No more disposable batteries.")),
    "adjustable": (("adjustable", "customizable", "tunable"),
                   ("Adjusts to fit you.", "Set it just the way you like.")),
    "eco-friendly": (("eco-friendly", "sustainable", "planet-friendly", "green"),
                     ("Made with the planet in mind.", "A lower-impact choice.")),
    "retro": (("retro", "throwback", "70s-inspired"),
              ("A throwback look.", "Straight out of the seventies.")),
    "slim": (("slim", "slender", "thin", "low-profile"),
             ("Slim enough to slip anywhere.", "A slender profile.")),
}
#: Adjective and sentence forms of the price bands.
BAND_FORMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "budget": (("budget-friendly", "affordable", "wallet-friendly", "inexpensive", "low-cost"),
               ("Easy on the wallet.", "Great value for money.", "A bargain at this price.")),
    "mid": (("mid-range", "fairly priced", "reasonably priced", "mid-priced"),
            ("Sensibly priced.", "Quality without the premium price tag.", "A fair price for what you get.")),
    "premium": (("premium", "high-end", "luxurious", "top-of-the-line"),
                ("An investment piece.", "Worth every penny of its price.", "From our top-tier range.")),
}
#: Ways of naming each product noun (the canonical noun comes first and is used in the title).
NOUN_FORMS: dict[str, tuple[str, ...]] = {
    "jacket": ("jacket", "shell jacket", "coat"), "parka": ("parka", "winter parka", "hooded coat"),
    "raincoat": ("raincoat", "rain jacket", "mac"), "vest": ("vest", "gilet", "bodywarmer"),
    "hiking boot": ("hiking boot", "trail boot", "walking boot"),
    "sneaker": ("sneaker", "trainer", "running shoe"), "sandal": ("sandal", "slide", "summer sandal"),
    "loafer": ("loafer", "slip-on", "moccasin"), "backpack": ("backpack", "rucksack", "daypack"),
    "duffel bag": ("duffel bag", "holdall", "weekender"), "suitcase": ("suitcase", "carry-on", "trolley case"),
    "tote bag": ("tote bag", "tote", "shopper"), "kettle": ("kettle", "electric kettle", "water boiler"),
    "skillet": ("skillet", "frying pan", "pan"), "mug": ("mug", "cup", "coffee mug"),
    "knife set": ("knife set", "knife block", "set of knives"),
    "headset": ("headset", "headphones", "over-ear headset"),
    "speaker": ("speaker", "sound box", "audio speaker"), "charger": ("charger", "charging dock", "power adapter"),
    "desk lamp": ("desk lamp", "task light", "reading lamp"), "blanket": ("blanket", "throw", "bedspread"),
    "cushion": ("cushion", "throw pillow", "pillow"), "vase": ("vase", "flower vase", "bud vase"),
    "candle": ("candle", "pillar candle", "tealight set"), "face cream": ("face cream", "moisturiser", "day cream"),
    "shampoo": ("shampoo", "hair wash", "cleansing shampoo"), "lip balm": ("lip balm", "lip care stick", "lip salve"),
    "soap bar": ("soap bar", "bar soap", "soap"), "yoga mat": ("yoga mat", "exercise mat", "workout mat"),
    "water bottle": ("water bottle", "drinks bottle", "flask"),
    "tennis racket": ("tennis racket", "racquet", "tennis racquet"),
    "jump rope": ("jump rope", "skipping rope", "speed rope"),
}
#: Ways of naming each category (in "Part of our ... range").
CATEGORY_FORMS: dict[str, tuple[str, ...]] = {
    "outerwear": ("outerwear", "coats and jackets", "outdoor clothing"),
    "footwear": ("footwear", "shoe", "boots and shoes"),
    "travel": ("travel", "luggage", "bags and luggage"), "kitchen": ("kitchen", "cookware", "kitchenware"),
    "electronics": ("electronics", "tech", "gadget"), "home": ("home", "home decor", "living room"),
    "beauty": ("beauty", "personal care", "skincare"), "sports": ("sports", "fitness", "activewear"),
}
#: Sentences that carry no attribute (some reuse attribute words on purpose: "recycled packaging").
FILLERS: tuple[str, ...] = (
    "Ships in recycled packaging.", "Free returns within 30 days.", "Backed by a one-year warranty.",
    "A classic gift idea.", "Care instructions are on the label.", "Ships within two business days.",
    "Designed in-house by our team.", "Available while stocks last.", "Please check the size guide before ordering.",
    "Colours may vary slightly from the photos.", "Part of the new season collection.",
    "Fits a modern lifestyle.", "Customers often buy it together with a matching accessory.",
    "Limited stock.", "Now with faster delivery.",
)


def attribute_names() -> list[str]:
    """Names of the :math:`F = 71` item attributes, in the column order of ``x_i`` and ``theta_u``.

    >>> names = attribute_names()
    >>> len(names), names[0], names[8], names[28], names[31]
    (71, 'category=outerwear', 'brand=Northpeak', 'price=budget', 'word=waterproof')
    """
    return ([f"category={c}" for c in CATEGORIES] + [f"brand={b}" for b in BRANDS]
            + [f"price={p}" for p in PRICE_BANDS] + [f"word={w}" for w in WORDS])


N_CATEGORIES, N_BRANDS, N_PRICE_BANDS, N_WORDS = len(CATEGORIES), len(BRANDS), len(PRICE_BANDS), len(WORDS)
BRAND_OFFSET = N_CATEGORIES
BAND_OFFSET = BRAND_OFFSET + N_BRANDS
WORD_OFFSET = BAND_OFFSET + N_PRICE_BANDS
N_ATTRIBUTES = WORD_OFFSET + N_WORDS
