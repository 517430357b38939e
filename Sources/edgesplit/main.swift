print("edgesplit")
