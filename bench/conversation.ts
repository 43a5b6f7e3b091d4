/**
 * The scripted 50-turn conversation of the add-cost section: each turn is one user message,
 * one assistant reply, and the facts a good extractor would take from it. `replaces` names an
 * earlier fact the turn makes obsolete (a system that can update memories should update it).
 */
export interface ScriptedTurn {
  user: string;
  assistant: string;
  facts: string[];
  replaces?: string;
}

type Row = [user: string, assistant: string, facts: string[], replaces?: string];

const ROWS: Row[] = [
  [
    "Hi! I'm Maya, I just moved to Lisbon for a new job.",
    "Welcome to Lisbon, Maya! What's the job?",
    ["Name is Maya", "Lives in Lisbon"],
  ],
  [
    "I'm a data engineer at a logistics startup.",
    "Sounds exciting. What stack do you use?",
    ["Works as a data engineer at a logistics startup"],
  ],
  [
    "Mostly Python and Postgres, some Kafka.",
    "A solid stack for event data.",
    ["Uses Python, Postgres and Kafka at work"],
  ],
  ["What's the weather like there this week?", "Expect sunny days around 24°C.", []],
  [
    "I'm vegetarian, any restaurant tips near Alfama?",
    "Try Ao 26 – Vegan Food Project.",
    ["Is vegetarian"],
  ],
  [
    "Thanks! I also can't eat peanuts, I'm allergic.",
    "Noted, I'll avoid peanut dishes.",
    ["Is allergic to peanuts"],
  ],
  [
    "My sister Lena is visiting next month.",
    "Nice! Any plans for her visit?",
    ["Has a sister named Lena", "Lena visits next month"],
  ],
  [
    "We want to go surfing in Ericeira.",
    "Ericeira has great beginner beaches.",
    ["Plans to go surfing in Ericeira with Lena"],
  ],
  ["ok", "Anything else I can help with?", []],
  ["I play the cello in my free time.", "Lovely. Classical or modern?", ["Plays the cello"]],
  ["Mostly Bach suites.", "The suites are a wonderful challenge.", ["Plays Bach cello suites"]],
  [
    "Can you recommend a music school here?",
    "The Hot Clube has classes; also the Conservatório.",
    [],
  ],
  [
    "I run every morning along the river.",
    "Great habit! How far do you usually run?",
    ["Runs every morning along the river"],
  ],
  ["About 8 km.", "That's a good distance.", ["Usually runs about 8 km"]],
  [
    "I'm training for the Lisbon half marathon in October.",
    "Let's plan your long runs.",
    ["Training for the Lisbon half marathon in October"],
  ],
  ["haha thanks", "You're welcome!", []],
  [
    "My favourite book is The Left Hand of Darkness.",
    "A classic by Ursula K. Le Guin.",
    ["Favourite book is The Left Hand of Darkness"],
  ],
  [
    "I'm learning Portuguese, currently A2 level.",
    "Boa sorte! Want some practice phrases?",
    ["Learning Portuguese at A2 level"],
  ],
  ["Yes please, for ordering coffee.", "Try: 'Um café, por favor.'", []],
  ["I have a cat called Pixel.", "Pixel is a great name for a cat!", ["Has a cat called Pixel"]],
  [
    "Pixel is 3 years old and loves boxes.",
    "Cats and boxes, a timeless love story.",
    ["Pixel is 3 years old and loves boxes"],
  ],
  ["I drink oat milk flat whites.", "Noted: oat milk flat white.", ["Drinks oat milk flat whites"]],
  ["What time is it in Berlin now?", "Berlin is one hour ahead of Lisbon.", []],
  ["My parents live in Berlin.", "Do you visit them often?", ["Parents live in Berlin"]],
  ["Every Christmas.", "A nice tradition.", ["Visits parents in Berlin every Christmas"]],
  [
    "Actually, I changed jobs: I'm now a data engineer at a bank.",
    "Congratulations on the new role!",
    ["Works as a data engineer at a bank"],
    "Works as a data engineer at a logistics startup",
  ],
  [
    "The bank uses Scala and Spark.",
    "Quite a change from Python.",
    ["Uses Scala and Spark at work"],
    "Uses Python, Postgres and Kafka at work",
  ],
  [
    "I'm thinking of adopting a second cat.",
    "Pixel might enjoy company.",
    ["Considering adopting a second cat"],
  ],
  ["cool", "Anything else?", []],
  [
    "I moved from Lisbon to Porto last weekend.",
    "How are you finding Porto?",
    ["Lives in Porto"],
    "Lives in Lisbon",
  ],
  ["Love it, the river views are amazing.", "The Douro is beautiful.", []],
  [
    "I now run along the Douro instead.",
    "Great new route!",
    ["Runs every morning along the Douro"],
    "Runs every morning along the river",
  ],
  [
    "I stopped being vegetarian, I eat fish now.",
    "Noted, pescatarian then.",
    ["Is pescatarian"],
    "Is vegetarian",
  ],
  ["Recommend a seafood place in Porto?", "Try Marisqueira de Matosinhos.", []],
  ["My birthday is on 14 March.", "I'll remember that!", ["Birthday is on 14 March"]],
  [
    "I'd like a cello for my birthday.",
    "A great gift idea.",
    ["Wants a new cello for her birthday"],
  ],
  [
    "Lena cancelled her visit, sadly.",
    "Sorry to hear that.",
    ["Lena cancelled her visit"],
    "Lena visits next month",
  ],
  ["So no surfing this year.", "Maybe next year!", [], "Plans to go surfing in Ericeira with Lena"],
  [
    "I passed my Portuguese B1 exam!",
    "Parabéns!",
    ["Passed the Portuguese B1 exam"],
    "Learning Portuguese at A2 level",
  ],
  ["What should I read next?", "Try 'The Dispossessed', also by Le Guin.", []],
  [
    "I finished The Dispossessed, loved it.",
    "Glad you enjoyed it!",
    ["Read and loved The Dispossessed"],
  ],
  [
    "I adopted a second cat, Byte.",
    "Welcome, Byte!",
    ["Has a second cat called Byte"],
    "Considering adopting a second cat",
  ],
  [
    "Byte is a kitten, 4 months old.",
    "Kittens are full of energy.",
    ["Byte is a 4-month-old kitten"],
  ],
  [
    "I'm switching to almond milk.",
    "Almond milk flat white, noted.",
    ["Drinks almond milk flat whites"],
    "Drinks oat milk flat whites",
  ],
  ["thanks!", "Anytime.", []],
  [
    "I signed up for the Porto marathon instead of Lisbon.",
    "A full marathon, impressive!",
    ["Training for the Porto marathon"],
    "Training for the Lisbon half marathon in October",
  ],
  [
    "My long runs are now 25 km.",
    "Remember to fuel well.",
    ["Long runs are now 25 km"],
    "Usually runs about 8 km",
  ],
  [
    "I joined a string quartet in Porto.",
    "What a great way to play more.",
    ["Plays cello in a string quartet in Porto"],
  ],
  [
    "We rehearse on Thursdays.",
    "Thursday rehearsals, noted.",
    ["String quartet rehearses on Thursdays"],
  ],
  ["Goodnight!", "Goodnight, Maya!", []],
];

export const CONVERSATION: ScriptedTurn[] = ROWS.map(([user, assistant, facts, replaces]) => ({
  user,
  assistant,
  facts,
  ...(replaces ? { replaces } : {}),
}));
