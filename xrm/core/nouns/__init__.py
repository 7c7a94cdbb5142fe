"""The five nouns' services: parties, roles, relationships, interactions, and the journal
read back as a party's timeline."""
