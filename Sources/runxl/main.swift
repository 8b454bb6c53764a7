import RunxlCommands

RunxlMain.main(Array(CommandLine.arguments.dropFirst()))
