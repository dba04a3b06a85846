package core

func runHelper() int { return 2 }
