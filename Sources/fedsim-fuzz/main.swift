// fedsim-fuzz: seeded, time-bounded fuzzing of FedSim's input readers (being built; see issue 9).
print("fedsim-fuzz: no targets yet")
