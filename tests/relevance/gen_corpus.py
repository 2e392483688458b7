#!/usr/bin/env python3
"""gen_corpus.py - write tests/relevance/corpus.json: the relevance test set of
search.semantic (tests/relevance/test_relevance.c).

The corpus is the demo data's searchable texts (examples/cli/demo.json: its
members, events and post) plus generated events, members and posts over 24
topics and 10 cities, and the queries with the keys of their relevant items.
Generated with a fixed seed: running this again writes the same file. The
labels come from the generator (an event is relevant to "rust meetup in new
york" when its topic is Rust and its city New York), not from any ranking.

usage: tests/relevance/gen_corpus.py > tests/relevance/corpus.json
"""
import json
import random

R = random.Random(15)

# topic: (display name, words of its vocabulary)
TOPICS = {
    "rust": ("Rust", ["borrow checker", "cargo crates", "ownership and lifetimes", "async Rust",
                      "embedded Rust"]),
    "python": ("Python", ["pandas", "Django", "type hints", "packaging with pip", "asyncio"]),
    "go": ("Go", ["goroutines", "Gophers", "channels", "the Go standard library", "gRPC services"]),
    "javascript": ("JavaScript", ["React", "Node.js", "TypeScript", "web components",
                                  "the browser event loop"]),
    "kubernetes": ("Kubernetes", ["k8s clusters", "Helm charts", "operators", "pods and services",
                                  "cloud native"]),
    "ml": ("Machine Learning", ["neural networks", "model training", "PyTorch", "transformers",
                                "gradient descent"]),
    "vector": ("Vector Search", ["embeddings", "nearest neighbour search", "HNSW graphs",
                                 "similarity search", "retrieval"]),
    "postgres": ("PostgreSQL", ["query planning", "indexes", "replication", "SQL tuning",
                                "vacuum"]),
    "design": ("Product Design", ["user research", "Figma", "prototyping", "design systems",
                                  "usability testing"]),
    "garden": ("Gardening", ["tomatoes", "compost", "roses", "seed swap", "allotments"]),
    "photo": ("Photography", ["street photography", "film cameras", "portraits", "darkroom",
                              "light and composition"]),
    "chess": ("Chess", ["openings", "blitz games", "endgames", "tournament play", "puzzles"]),
    "running": ("Running", ["5k", "half marathon", "trail running", "interval training",
                            "a running club"]),
    "baking": ("Baking", ["sourdough bread", "croissants", "pastry", "cakes", "starter"]),
    "boardgames": ("Board Games", ["Catan", "strategy games", "dice", "cooperative games",
                                   "card games"]),
    "startups": ("Startups", ["founders", "fundraising", "pitch decks", "product market fit",
                              "angel investors"]),
    "security": ("Security", ["penetration testing", "CTF", "threat modelling",
                              "cryptography", "bug bounties"]),
    "systems": ("Systems Programming", ["C", "kernels", "memory allocators", "io_uring",
                                        "SIMD"]),
    "climbing": ("Climbing", ["bouldering", "the climbing gym", "belaying", "crags",
                              "top rope"]),
    "yoga": ("Yoga", ["vinyasa", "breathing", "meditation", "stretching", "mindfulness"]),
    "books": ("Book Club", ["novels", "reading", "authors", "literary fiction",
                            "one book a month"]),
    "jazz": ("Jazz", ["jam session", "saxophone", "improvisation", "live music", "big band"]),
    "volunteer": ("Volunteering", ["food bank", "charity", "neighbourhood clean-up",
                                   "mentoring", "helping out"]),
    "datasci": ("Data Science", ["statistics", "notebooks", "data visualisation",
                                 "dashboards", "experiments"]),
}

# city: (names used in texts, venues)
CITIES = {
    "nyc": (["New York", "NYC", "Manhattan, New York", "Brooklyn, New York"],
            ["Civic Hall", "Brooklyn Public Library", "WeWork Chelsea"]),
    "berlin": (["Berlin"], ["c-base", "Factory Berlin", "betahaus"]),
    "lagos": (["Lagos"], ["Yaba Tech Hub", "CcHub", "Victoria Island hub"]),
    "london": (["London"], ["Google Campus", "the Barbican", "Shoreditch Works"]),
    "tokyo": (["Tokyo"], ["Shibuya hall", "Roppongi Hills", "Akihabara space"]),
    "saopaulo": (["Sao Paulo", "São Paulo"], ["Cubo Itau", "Avenida Paulista hall",
                                               "Pinheiros studio"]),
    "nairobi": (["Nairobi"], ["iHub", "Ngong Road space", "Westlands studio"]),
    "bangalore": (["Bangalore", "Bengaluru"], ["Koramangala hub", "Indiranagar studio",
                                               "Whitefield campus"]),
    "paris": (["Paris"], ["Station F", "le Marais studio", "La Villette"]),
    "toronto": (["Toronto"], ["MaRS Discovery District", "Queen West studio",
                              "the Distillery"]),
}

EVENT_TITLES = ["{T} Meetup {C}", "{C} {T} Night", "{T} Workshop", "Intro to {T}",
                "{T} Study Group", "{T} Hack Day", "{T} in {C}", "{T} Social"]
FIRST = ["Ada", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jade", "Kofi",
         "Lina", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma",
         "Victor", "Wen", "Xavi", "Yara", "Zane"]
LAST = ["Adeyemi", "Bauer", "Costa", "Dubois", "Eriksen", "Fujita", "Garcia", "Hoffmann",
        "Iyer", "Jensen", "Kamau", "Lopez", "Mensah", "Nakamura", "Okafor", "Petrov",
        "Quaye", "Rossi", "Singh", "Tanaka"]
ROLES = {"rust": "Rust developer", "python": "Python developer", "go": "Go engineer",
         "javascript": "Frontend engineer", "kubernetes": "Platform engineer",
         "ml": "Machine learning engineer", "vector": "Search engineer",
         "postgres": "Database administrator", "design": "Product designer",
         "garden": "Gardener", "photo": "Photographer", "chess": "Chess coach",
         "running": "Marathon runner", "baking": "Baker", "boardgames": "Board game designer",
         "startups": "Startup founder", "security": "Security researcher",
         "systems": "Systems programmer", "climbing": "Climbing instructor",
         "yoga": "Yoga teacher", "books": "Librarian", "jazz": "Jazz musician",
         "volunteer": "Community organiser", "datasci": "Data scientist"}

items = []  # {key, kind, ...texts, topic, city}


def pick(seq):
    return seq[R.randrange(len(seq))]


# ---- the demo data (examples/cli/demo.json), searchable texts only ----
DEMO = [
    {"key": "demo-event-systems", "kind": "event", "title": "Systems Programming Night",
     "description": "Lightning talks on allocators, io_uring and SIMD, then open hacking.",
     "venue": "c-base, Rungestrasse 20, Berlin", "topic": "systems", "city": "berlin"},
    {"key": "demo-event-hnsw", "kind": "event", "title": "Reading: HNSW graphs",
     "description": "Malkov and Yashunin, 2016: read it before.", "venue": "",
     "topic": "vector", "city": None},
    {"key": "demo-event-lagos", "kind": "event", "title": "Lagos Community Meetup",
     "description": "A small room: three seats, then the waitlist.",
     "venue": "Yaba Tech Hub, Lagos", "topic": None, "city": "lagos"},
    {"key": "demo-member-olu", "kind": "member", "name": "Olu Okafor",
     "headline": "Systems engineer, meetup host", "bio": "",
     "interests": ["c", "systems", "performance"], "topic": "systems", "city": None},
    {"key": "demo-member-mei", "kind": "member", "name": "Mei Tanaka", "headline": "ML engineer",
     "bio": "", "interests": ["machine learning", "vector search", "python"], "topic": "ml",
     "city": None},
    {"key": "demo-member-dana", "kind": "member", "name": "Dana Brooks",
     "headline": "Backend developer", "bio": "", "interests": ["c", "databases", "rust"],
     "topic": "rust", "city": None},
    {"key": "demo-member-lena", "kind": "member", "name": "Lena Vogel",
     "headline": "Product designer", "bio": "", "interests": ["community", "design"],
     "topic": "design", "city": None},
    {"key": "demo-post-welcome", "kind": "post", "title": "Welcome to Berlin C & Systems",
     "body": "Our first night is on October 14th. Bring a laptop and a favourite bug story.",
     "topic": "systems", "city": "berlin"},
]
items += DEMO

# ---- generated events: every topic in 3-4 cities, 1-2 events each ----
n = 0
for t, (tname, vocab) in TOPICS.items():
    cities = R.sample(sorted(CITIES), 4)
    if t == "rust" and "nyc" not in cities:
        cities[0] = "nyc"  # the case reported in issue 15
    for c in cities:
        names, venues = CITIES[c]
        for _ in range(1 + (R.random() < 0.3)):
            n += 1
            cname = pick(names)
            title = pick(EVENT_TITLES).format(T=tname, C=cname)
            w = R.sample(vocab, 2)
            desc = pick([
                "An evening about {a} and {b}. Everyone welcome, beginners too.",
                "Talks on {a}, then {b} in small groups.",
                "Bring your questions about {a}; we end with {b}.",
                "Hands-on session: {a} and {b}, with snacks.",
            ]).format(a=w[0], b=w[1])
            venue = "%s, %s" % (pick(venues), cname)
            items.append({"key": "event-%03d" % n, "kind": "event", "title": title,
                          "description": desc, "venue": venue, "topic": t, "city": c})

# ---- generated members: one topic (plus one more interest) and a city ----
for i in range(72):
    t = sorted(TOPICS)[i % len(TOPICS)]
    c = pick(sorted(CITIES))
    other = pick(sorted(TOPICS))
    name = "%s %s" % (FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)])
    tname, vocab = TOPICS[t]
    bio = pick([
        "Based in {C}. I spend my weekends on {a}.",
        "{C} local, into {a} and {b}.",
        "Working on {a} in {C}; happy to chat about {b}.",
    ]).format(C=pick(CITIES[c][0]), a=pick(vocab), b=pick(TOPICS[other][1]))
    items.append({"key": "member-%03d" % (i + 1), "kind": "member", "name": name,
                  "headline": ROLES[t], "bio": bio,
                  "interests": [tname.lower(), TOPICS[other][0].lower()], "topic": t,
                  "city": c})

# ---- generated posts: questions and write-ups per topic ----
POST_TITLES = ["Question about {a}", "Notes from our {T} evening", "Looking for help with {a}",
               "{T} resources for beginners", "What I learned about {a}"]
for i in range(48):
    t = sorted(TOPICS)[(i * 5) % len(TOPICS)]
    tname, vocab = TOPICS[t]
    a, b = R.sample(vocab, 2)
    title = pick(POST_TITLES).format(T=tname, a=a)
    body = pick([
        "Has anyone tried {b}? I am stuck on {a}.",
        "Slides and links from the talk on {a} and {b}.",
        "A short write-up: {a}, {b} and what we want to try next.",
    ]).format(a=a, b=b)
    items.append({"key": "post-%03d" % (i + 1), "kind": "post", "title": title, "body": body,
                  "topic": t, "city": None})


def keys(**want):
    out = []
    for it in items:
        if all(it.get(k) == v for k, v in want.items()):
            out.append(it["key"])
    return out


queries = []


def q(text, relevant, note):
    assert relevant is not None
    queries.append({"query": text, "relevant": relevant, "kind": note})


# topic + city: the events of that topic in that city (the case first)
q("rust meetup in new york", keys(kind="event", topic="rust", city="nyc"), "topic+city")
pairs = sorted({(it["topic"], it["city"]) for it in items
                if it["kind"] == "event" and it["key"].startswith("event-")})
for t, c in R.sample(pairs, 20):
    if (t, c) == ("rust", "nyc"):
        continue
    q("%s %s in %s" % (TOPICS[t][0].lower(), pick(["meetup", "events", "night", "group"]),
                       CITIES[c][0][0].lower()),
      keys(kind="event", topic=t, city=c), "topic+city")
# topic by a vocabulary word: the events and posts of that topic
for t in R.sample(sorted(TOPICS), 12):
    word = pick(TOPICS[t][1])
    rel = [it["key"] for it in items if it["kind"] in ("event", "post") and it["topic"] == t
           and word.lower() in (it.get("description", "") + " " + it.get("title", "") + " " +
                                it.get("body", "")).lower()]
    if rel:
        q(word.lower(), rel, "vocabulary")
# people: members of a topic ("who does X")
for t in R.sample(sorted(TOPICS), 10):
    q("%s %s" % (TOPICS[t][0].lower(), pick(["people", "experts", "members", "folks"])),
      keys(kind="member", topic=t), "people")
# people by name
for key in ["demo-member-mei", "member-005", "member-017", "member-033", "member-060"]:
    it = next(x for x in items if x["key"] == key)
    q(it["name"].lower(), [key], "name")
# the demo data
q("hnsw paper reading", ["demo-event-hnsw"], "demo")
q("systems programming night in berlin", ["demo-event-systems"], "demo")
q("lagos community meetup", ["demo-event-lagos"], "demo")
q("welcome berlin c systems", ["demo-post-welcome"], "demo")
# nonsense: no results expected
for text in ["xqzvw plokijuh", "zzzz qqqq", "blorptastic wuggle", "fnord", "kjhgf lkjhg"]:
    q(text, [], "nonsense")

print(json.dumps({"items": items, "queries": queries}, indent=1, ensure_ascii=False))
