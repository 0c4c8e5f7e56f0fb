global using Ecg.Data;
global using Ecg.Model;
