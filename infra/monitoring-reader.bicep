// Read access for the Rollout app's identity on one resource group whose Azure Monitor metrics and logs its plans'
// criteria read. Deployed by main.bicep at each scope of `monitoredResourceGroups`.
targetScope = 'resourceGroup'

@description('The Rollout app\'s system-assigned identity.')
param principalId string

param monitoringReaderRoleId string
param logAnalyticsReaderRoleId string

resource monitoringReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, monitoringReaderRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource logAnalyticsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, logAnalyticsReaderRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
