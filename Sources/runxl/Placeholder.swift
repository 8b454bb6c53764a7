print("runxl")
