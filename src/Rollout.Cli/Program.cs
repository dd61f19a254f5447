using Rollout.Cli.Commands;

return await CliApp.RunAsync(args, Console.Out, Console.Error);
